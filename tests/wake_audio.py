"""Wake-word recordings made on the machine: espeak-ng says the wake word in several voices.

No recording of anyone saying "okay nabu" with a clear licence was found, so the wake words
are synthetic; what follows them in the tests is real speech from ../shared/speech. The
benchmark (benchmarks/wake_word.py) uses the same voices, split into a half the cutoff is
chosen on and a held-out half.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from appliance.samples import room_noise, speak

PHRASES = {
    "okay_nabu": "okay nabu",
    "hey_jarvis": "hey jarvis",
    "hey_mycroft": "hey mycroft",
    "alexa": "alexa",
}
# espeak-ng's own voices and variants (no MBROLA voice: those need extra packages)
DEV_VOICES = ("en-us", "en-gb", "en-us+m3", "en-gb-scotland+f2", "en-029", "en-us+f4")
HELD_VOICES = ("en-gb-x-rp", "en-us+m7", "en+klatt", "en-us+f2", "en-gb-x-gbclan+m2")
SPEEDS = (130, 160)  # words per minute
# Everyday sentences that are not a wake word.
ORDINARY = (
    "A banana and an apple are on the kitchen table.",
    "Please send the report to the team before Friday afternoon.",
    "The weather today is cloudy with a chance of rain in the evening.",
    "Can you remind me to call my mother at six o'clock?",
    "The train to Boston leaves from platform nine at noon.",
    "I need to buy milk, eggs and bread on the way home.",
    "The children are playing football in the park after school.",
    "Open the window, it is getting warm in here.",
)
# Sentences with a sound close to a built-in wake word: "Alex..." (alexa), "okay, n..." (okay
# nabu), "my craft" (hey mycroft), "hey, is Jarvis" (hey jarvis).
NEAR_MISS = (
    "Alexander said the lexicon is in the library next to the election results.",
    "Okay, now we can begin the meeting about the budget.",
    "Okay boomer, that is not how the new system works.",
    "My craft project needs more glue and some paper.",
    "Hey, is Jarvis Street the one with the bakery?",
)
NOT_WAKE = ORDINARY + NEAR_MISS


@lru_cache(maxsize=64)
def wake_word(model: str, voice: str, words_per_minute: int = 150) -> np.ndarray:
    """The model's phrase said by one espeak-ng voice, 16 kHz float32."""
    audio = speak(PHRASES[model], voice=voice, words_per_minute=words_per_minute)
    audio.setflags(write=False)
    return audio


def wake_then(wake: np.ndarray, speech: np.ndarray, *, gap_s: float = 0.4) -> np.ndarray:
    """Room noise, the wake word, a short pause, the speech, then 2.5 s of room noise."""
    parts = [room_noise(0.6, seed=1), wake, room_noise(gap_s, seed=2), speech]
    parts.append(room_noise(2.5, seed=3))
    return np.concatenate(parts).astype(np.float32)


PAUSE_S = 2.5


def with_pauses(clips: list[np.ndarray], seconds: float = PAUSE_S) -> np.ndarray:
    """Clips one after another, each after a pause of room noise: what a device in a room
    hears. (The pause matters: after 2.5 s of quiet, okay_nabu fired on 8 of 20 held-out near
    misses; with 0.3 s between them, on 1.)"""
    parts = [np.concatenate([room_noise(seconds, seed=n), c]) for n, c in enumerate(clips)]
    return np.concatenate(parts).astype(np.float32)


def padded(audio: np.ndarray) -> np.ndarray:
    """A sound with half a second of room noise on each side."""
    return np.concatenate([room_noise(0.5, seed=5), audio, room_noise(0.5, seed=6)])


def noise_hour_part(seconds: float, seed: int) -> np.ndarray:
    """Generated noise of several kinds (white, pink-ish room noise, hum, clicks) at levels
    from quiet to loud, for false-trigger counts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    out = np.zeros(n, np.float32)
    step = 16000 * 10
    for i, at in enumerate(range(0, n, step)):
        m = min(step, n - at)
        kind = i % 4
        level = 10 ** (rng.uniform(-50, -15) / 20)
        if kind == 0:
            chunk = rng.normal(0, 1, m)
        elif kind == 1:
            chunk = room_noise(m / 16000, seed=seed * 1000 + i).astype(np.float64)
        elif kind == 2:
            t = np.arange(m) / 16000
            chunk = np.sin(2 * np.pi * rng.uniform(50, 400) * t) + rng.normal(0, 0.2, m)
        else:
            chunk = np.zeros(m)
            clicks = rng.integers(0, m, size=max(1, m // 4000))
            chunk[clicks] = rng.choice([-1.0, 1.0], size=len(clicks))
            chunk += rng.normal(0, 0.05, m)
        rms = float(np.sqrt(np.mean(chunk**2))) or 1.0
        out[at : at + m] = (chunk / rms * level).astype(np.float32)
    return np.clip(out, -1, 1)
