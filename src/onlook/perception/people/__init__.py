"""People in view, and people entering and leaving it, for fixed cameras on a CPU.

Foreground comes from a mixture-of-Gaussians background model (OpenCV MOG2,
shadows removed) on a 320-pixel-wide copy of the frame, after undoing global
exposure drift; blobs that hardly differ from the background (compression
noise, flicker) are dropped. Blobs are matched to tracks by a gated Hungarian
assignment on constant-velocity predictions. A blob claimed by several
tracks (people walking together) has its pixels shared among them; a blob
bigger than its one track is fitted with a person-sized box and what is left
over, if person-sized, becomes a candidate of its own; pieces that fit inside
a tracked person's box are absorbed. Someone lost for a moment whose last
place lies in a blob another track claims, wider than one person, rejoins it
(people standing together merge for seconds), and a hidden group member
moves as its mates do. A track inside a much taller person's box, or beside
a close-up cut off by the bottom edge, is a part of them and not counted.

What one person looks like at each image row is learned online: a robust
line ``height = a * foot_y + b`` fitted to isolated confirmed tracks (people
near the bottom of an elevated view are taller); nothing is assumed about the
camera. OpenCV's HOG people model scores single 64x128 windows cut around
candidates that are big enough for it (a fraction of a millisecond each): a
good score confirms someone, a very bad one vetoes them (a box, a car, a
hand), and it is the only evidence that confirms a group member.

A candidate is confirmed by how it appeared. Across an edge: it grows or
moves inwards and is shaped like a person. Inside the view, away from every
known person (a doorway, behind a car): it keeps coming for three frames and
looks like a person or walks. Next to someone (a companion, or a bag): HOG
says person, or it walks off on its own. Everything present during the
first seconds of a stream is taken as already there, and everything that
shows up right after a scene cut or camera motion too, so neither fires an
``enter``; an ``enter`` also needs the newcomer to look like a person within
a few seconds. Lost people are re-acquired near their predicted position (not
across an edge), and someone who stops and fades into the background is kept
while their pixels stay as they were. When most of the frame is foreground
(the camera moves) no tracks are kept and HOG's multi-scale detector counts
people on the small frame, without events.

The work is split the way supervision splits ByteTrack:

* :mod:`~onlook.perception.people.foreground`: the MOG2 background, exposure compensation, blobs;
* :mod:`~onlook.perception.people.motion`: constant-velocity prediction, foot points, boxes fitted into masks;
* :mod:`~onlook.perception.people.association`: gated Hungarian matching, groups sharing a blob, pieces;
* :mod:`~onlook.perception.people.state`: tracks, blobs, the height model and the confirmation rules;
* :mod:`~onlook.perception.people.crossing`: frame edges and the enter / exit decisions;
* :mod:`~onlook.perception.people.hog`: the HOG verifier and the multi-scale fallback;
* :mod:`~onlook.perception.people.thresholds`: every tuning constant, named and explained;
* :mod:`~onlook.perception.people.tracker`: :class:`PeopleTracker`, which runs them in turn.
"""

from __future__ import annotations

from onlook.perception.people.tracker import PeopleResult, PeopleTracker

__all__ = ["PeopleResult", "PeopleTracker"]
