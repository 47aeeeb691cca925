"""State carried from frame to frame of a video, and the smoothing that uses it.

RVM carries its own recurrent state (four tensors); other models get an optional
motion-adaptive smoothing: small frame-to-frame changes (flicker) are damped, large ones
(real motion) pass through untouched, so moving edges do not leave ghosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Changes of alpha at least this large are taken as motion and never smoothed.
MOTION_THRESHOLD = 0.25


@dataclass
class StreamState:
    """What one video stream remembers between frames."""

    recurrent: list[np.ndarray] | None = None  # RVM's r1..r4 for the next frame
    recurrent_shape: tuple[int, int] | None = None  # the working size those states belong to
    previous_alpha: np.ndarray | None = None
    frames: int = 0
    extra: dict = field(default_factory=dict)


def smooth(alpha: np.ndarray, previous: np.ndarray | None, strength: float) -> np.ndarray:
    """Pull ``alpha`` towards the previous frame's where it changed by less than MOTION_THRESHOLD.

    ``strength`` 0 returns ``alpha`` unchanged; 0.9 removes most flicker.
    """
    if previous is None or strength <= 0.0 or previous.shape != alpha.shape:
        return alpha
    change = np.abs(alpha - previous)
    weight = strength * np.clip(1.0 - change / MOTION_THRESHOLD, 0.0, 1.0)
    return (alpha + weight * (previous - alpha)).astype(np.float32)
