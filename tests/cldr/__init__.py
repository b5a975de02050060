"""A second-source HID-report decoder built on Unicode CLDR keyboard data (CLDR <= 43)."""
