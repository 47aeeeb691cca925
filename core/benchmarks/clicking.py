"""The interactive-segmentation protocol (``cleancut bench --prompt clicks``), as RITM and
SimpleClick measure it: a simulated user clicks, the engine answers, the user clicks again.

- The first click is an include point at the ground truth's innermost pixel (the farthest from
  its edge and from the image's border).
- Each next click goes to the innermost pixel of the largest error region of the last answer:
  an include point where the subject was missed, an exclude point where background was taken.
- After each click the answer's IoU (alpha >= 0.5 against ground truth >= 128, GrabCut's 128
  band left out as everywhere) is recorded; NoC@85 / NoC@90 is the number of clicks until the
  IoU first reaches 0.85 / 0.90, MAX_CLICKS when it never does within them (RITM counts to 20;
  each click here is a whole engine run on the CPU, so the bench stops at 10).
"""

from __future__ import annotations

import statistics
from typing import Callable

import numpy as np
from scipy import ndimage

from .. import prompts

MAX_CLICKS = 10  # clicks per image at most; NoC counts an image that never gets there as this
REPORTED = (1, 2, 3, 5)  # mean IoU after this many clicks goes in the tables
TARGETS = (0.85, 0.90)


def truth(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The subject (gt >= 128) and the pixels that count (all but GrabCut's 128 band), from a
    uint8 ground truth."""
    return gt >= 128, gt != 128


def iou(alpha: np.ndarray, subject: np.ndarray, counted: np.ndarray) -> float:
    """IoU of alpha >= 0.5 against ``subject`` over the ``counted`` pixels."""
    pred = (alpha >= 0.5) & counted
    union = int((pred | (subject & counted)).sum())
    return 1.0 if union == 0 else float((pred & subject).sum() / union)


def innermost(region: np.ndarray) -> tuple[float, tuple[float, float]]:
    """The distance to the region's edge (or the image's border) of its innermost pixel, and
    that pixel's centre as (x, y); distance 0 for an empty region."""
    distance = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    index = int(np.argmax(distance))
    row, col = divmod(index, region.shape[1])
    return float(distance[row, col]), (col + 0.5, row + 0.5)


def next_click(alpha: np.ndarray | None, subject: np.ndarray, counted: np.ndarray) -> tuple[bool, prompts.Point] | None:
    """Where the simulated user clicks next: (include?, point), or None when nothing is wrong.
    ``alpha`` None: the first click, at the subject's innermost pixel."""
    if alpha is None:
        depth, point = innermost(subject & counted)
        return (True, point) if depth > 0 else None
    pred = alpha >= 0.5
    depth_missed, at_missed = innermost(subject & ~pred & counted)
    depth_wrong, at_wrong = innermost(pred & ~subject & counted)
    if depth_missed == 0 and depth_wrong == 0:
        return None
    return (True, at_missed) if depth_missed >= depth_wrong else (False, at_wrong)


def run(answer: Callable[[prompts.Clicks], np.ndarray], subject: np.ndarray, counted: np.ndarray
        ) -> list[float]:
    """The IoU after each click; ``answer(clicks)`` is the
    engine's alpha for the clicks so far. Every image gets max(REPORTED) clicks, then more only
    until it reaches the highest target (or MAX_CLICKS): later ones change no measure. A
    perfect answer stays: later clicks keep its IoU."""
    include: list[prompts.Point] = []
    exclude: list[prompts.Point] = []
    alpha, scores = None, []
    while len(scores) < MAX_CLICKS:
        if len(scores) >= max(REPORTED) and max(scores) >= max(TARGETS):
            break
        click = next_click(alpha, subject, counted)
        if click is None:
            scores.append(scores[-1] if scores else 1.0)
            continue
        (include if click[0] else exclude).append(click[1])
        alpha = answer(prompts.Clicks(include=tuple(include), exclude=tuple(exclude)))
        scores.append(iou(alpha, subject, counted))
    return scores


def clicks_to(scores: list[float], target: float) -> int:
    """NoC: the clicks until the IoU first reaches ``target`` (MAX_CLICKS if it never does)."""
    return next((k for k, score in enumerate(scores, 1) if score >= target), MAX_CLICKS)


def summary(per_image: list[dict]) -> dict:
    """A set's click measures: mean IoU with no click and after REPORTED clicks, NoC@85/90."""
    block: dict = {"count": len(per_image),
                   "none": statistics.fmean(r["no_click"] for r in per_image)}
    for k in REPORTED:
        block[str(k)] = statistics.fmean(r["clicks"][k - 1] for r in per_image)
    for target in TARGETS:
        block[f"noc{round(target * 100)}"] = statistics.fmean(clicks_to(r["clicks"], target) for r in per_image)
    return block
