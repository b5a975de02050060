"""The Bluetooth LE keyboard output (HID over GATT through BlueZ): docs/bluetooth.md."""
