"""The people tracker's tuning constants, named and explained in one place.

Every number here was tuned on real footage (``vtest.avi`` above all) together
with the others; change one and rerun ``scripts/eval_people.py``. Sizes given
as a share of something are dimensionless; "work pixels" are pixels of the
small copy of the frame the background model runs on; seconds are stream time.
The user-facing knobs (``PeopleTracker``'s constructor arguments) are not here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["THRESHOLDS", "PeopleThresholds"]


@dataclass(frozen=True, slots=True)
class PeopleThresholds:
    """Constants of the foreground, motion, association, confirmation, crossing and HOG steps.

    Fields keep the type of the literal they replace (``int`` or ``float``), so
    that every computation gives bit-for-bit what it gave with the literal.
    """

    # ---- people's shape
    person_width: float = 0.38  # typical width / height of one walking person's foreground
    ref_h_min: float = 4.0  # smallest height (work px) a track's distances are measured in, against tiny boxes

    # ---- foreground (MOG2, exposure, blobs)
    work_min_h: int = 8  # fewest rows of the work image, whatever the aspect ratio
    gap_frames: float = 3.0  # a time step of more than this many frames (and lost_s) is an outage: restart
    min_dt: float = 1e-3  # smallest time step (s), so speeds stay finite for frames with one timestamp
    ghost_s: float = 1.0  # fastest absorption, right after a (re)start: ghosts of people who walk off fade
    mog_absorb_rate: float = 0.105  # -ln(0.9): MOG2 takes a value as background once its weight passes 0.1
    mog_history: int = 500  # MOG2's history; the learning rate is always given, so this only sets its start
    mog_foreground: int = 255  # MOG2's label for foreground (127 marks shadows, which are dropped)
    bg_rate: float = 0.5  # per second: the running-average background used to measure a blob's contrast
    exposure_tolerance: float = 0.004  # relative gain below which exposure is left alone (rounding noise)
    open_kernel: int = 2  # side of the square opening that removes single-pixel foreground specks
    close_x_div: int = 110  # the vertical closing is work_width / this wide (thin: keep people apart)
    close_y_div: int = 45  # ... and work_width / this tall (joins legs, trunk and head)
    close_y_min: int = 3  # ... and at least this tall (made odd)
    blob_min_area: float = 4.0  # smallest blob (work px) kept, whatever min_height says
    blob_min_fill: float = 0.15  # smallest blob kept, as a share of a min_height-tall square
    contrast_sample_area: int = 1500  # a blob this big (px) has its contrast measured on every 2nd pixel...
    contrast_sample_area2: int = 6000  # ... and this big on every 3rd: a sample is plenty

    # ---- height model (height = a * foot_y + b)
    height_min_samples: int = 8  # fewest isolated sightings the height line is fitted on
    height_max_samples: int = 400  # sightings kept (the most recent): the view's people change slowly
    height_min_spread: float = 0.08  # share of the frame height the feet must span to fit a slope, not a constant
    height_fit_rounds: int = 3  # rounds of refitting on the inliers of the previous round
    height_outlier: float = 0.3  # relative height error beyond which a sighting is an outlier (a group, a part)
    height_foot_lo: int = 2  # percentile of the foot rows where the fitted range begins...
    height_foot_hi: int = 98  # ... and where it ends (a few strays do not stretch it)
    height_refit_max: int = 10  # refit after at most this many new samples...
    height_refit_div: int = 10  # ... or after a tenth of what is held, if fewer (a fit costs ~0.5 ms)
    height_min_span: float = 0.1  # share of the frame height the fitted rows are taken to span at least
    height_extrapolate: float = 1.5  # spans beyond the seen rows the line is still trusted (then it is held)
    height_above_floor: float = 0.5  # above the seen rows the height falls to no less than this share of the top's
    height_min: float = 2.0  # smallest expected height (work px): a fit running into the horizon

    # ---- motion
    coast_damping: float = 0.7  # speed kept per missed frame: people who vanish usually stopped or turned
    coast_max_misses: int = 6  # the damping stops growing after this many misses
    vel_smoothing: float = 0.5  # weight of the newest speed measurement against the running speed
    size_smoothing: float = 0.6  # weight of the newest whole sighting in a track's smoothed size
    size_aspect_lo: float = 2.0  # height / width of a sighting taken as one whole person, at least...
    size_aspect_hi: float = 5.0  # ... and at most (wider: a group, thinner: a part)
    whole_lo: float = 0.7  # a sighting shorter than this share of the expected height is cut short...
    whole_hi: float = 1.4  # ... and one taller than this is more than one person
    fit_search_x: float = 0.6  # _fit_box searches box centres this many widths either side of the prediction
    fit_search_y: float = 0.3  # ... and feet this many heights above and below it
    fit_penalty: float = 0.15  # pixels of box area lost per box width (or height) moved from the prediction
    share_samples: int = 1500  # _share places boxes on a sample of about this many pixels
    share_rounds: int = 3  # rounds of moving each box to the middle of its pixels
    share_reach_norm: float = 1.2  # the usual slack: it gives a first round that looks one box far
    share_y_slack: float = 0.6  # half-heights a shared box may move up or down from its prediction
    share_depth: float = 1.2  # pixels this deep (in half-sizes) in a box belong to it; farther ones to nobody
    share_min_fill: float = 0.15  # share of its box a person must show not to be hidden behind the others

    # ---- association
    cost_blocked: float = 1e6  # cost of a pair gated out (the assignment still needs a number)
    cost_gated: float = 1e5  # an assigned pair costing this much was gated out: no match
    gate_base: float = 0.8  # largest foot-point distance (in heights) to the prediction, for a track just seen
    gate_growth: float = 0.6  # the gate widens by this many heights per second lost (up to lost_s)
    gate_sliver: float = 0.8  # more heights per second for a track seen once, at an edge (only a sliver showed)
    gate_sliver_s: float = 1.0  # ... for at most this many seconds
    size_ratio_lo: float = 0.33  # smallest blob / track height ratio a match may have...
    size_ratio_hi: float = 3.0  # ... and the largest
    size_ratio_lost_lo: float = 0.6  # the same for a track that was lost: someone who comes back looks the same
    size_ratio_lost_hi: float = 1.7  # ... and the largest for a lost track
    size_cost: float = 0.5  # cost per unit of |log(height ratio)|
    lost_penalty: float = 0.4  # extra cost for a lost track: tracks seen a frame ago are likelier
    tentative_penalty: float = 0.2  # extra cost for an unconfirmed track: confirmed people win a blob
    hidden_in_view: float = 0.5  # a group member hidden with less of its predicted box in the picture has gone
    group_max_misses: int = 1  # a track missed longer than this frames does not claim a blob it overlaps
    group_cover: float = 0.3  # share of a predicted box inside a claimed blob for a leftover track to share it
    merged_cover: float = 0.5  # share of a lost person's box inside a blob for them to have merged into it
    merged_width: float = 1.25  # ... which must be this many person widths wide (room for two)
    join_overlap: float = 0.5  # pieces stacked one over the other overlap by this share of the narrower one
    join_height: float = 1.3  # ... and together are no taller than this many expected heights
    join_aspect: float = 5.0  # ... or, with no height known, no taller than this many times their width
    join_gap: float = 0.3  # ... with a vertical gap of at most this share of their joint height
    one_fit_h: float = 1.4  # a blob up to this many person heights tall is its one track as it is...
    one_fit_w: float = 1.5  # ... if also at most this many person widths wide
    fit_min_fill: float = 0.15  # share of the fitted person box a track's pixels must fill to be seen
    share_slack_new: float = 2.5  # half-widths a track seen once may be found from its prediction (no speed yet)
    share_slack: float = 1.2  # ... and any other track
    big_thing: float = 2.0  # a blob this many times the claimants' person areas is one big moving thing
    held_min: float = 0.7  # share of a blob its claimants' boxes must hold for it to be just them
    side_min_h: float = 0.5  # a leftover at the left/right edge is a person if this many expected heights...
    side_min_area: float = 0.05  # ... and this many expected heights squared of pixels
    cut_min_area: float = 0.1  # a leftover at the top/bottom edge: this many expected heights squared
    rest_min_h: float = 0.6  # a leftover inside the view: this many expected heights tall...
    rest_min_area: float = 0.15  # ... and this many expected heights squared of pixels
    absorb_h: float = 1.25  # a loose piece joins a person if together they are at most this many heights...
    absorb_w: float = 1.4  # ... and this many widths
    absorb_grow_x: float = 0.3  # ... and it lies in their predicted box grown this share sideways...
    absorb_grow_y: float = 0.2  # ... and this share up and down
    absorb_cover: float = 0.3  # ... by more than this share of its box
    speck_area: float = 0.25  # a blob smaller than this share of a person's box, beside them, is noise
    speck_grow_x: float = 0.6  # "beside": within their box grown this share sideways...
    speck_grow_y: float = 0.3  # ... and this share up and down
    near_grow_x: float = 1.0  # a newcomer this near a confirmed person (box grown by widths)...
    near_grow_y: float = 0.5  # ... and heights) is with them: a companion or something they carry
    late_entry_grow: float = 1.0  # a newcomer within this many body widths of an edge came in through it, seen late
    spawn_min_share: float = 0.5  # things shorter than this share of min_height are not tracked at all...
    spawn_min_expected: float = 0.25  # ... nor those shorter than this share of the expected height
    split_width: float = 1.6  # a new blob wider than this many person widths is cut at valleys
    valley_width: float = 0.3  # narrowest piece a cut leaves, as a share of the person height
    valley_smooth: int = 3  # column counts are smoothed over a third of that width
    valley_depth: float = 0.5  # a valley is cut if lower than this share of the lower peak beside it

    # ---- confirmation and track state
    tentative_max_misses: int = 2  # an unconfirmed track missed this many frames in a row is dropped
    hog_max_tries: int = 4  # HOG windows scored per candidate (each new sighting one more)
    hog_sure: float = 1.0  # margin over hog_threshold of a score that is surely one whole person
    hog_aspect_lo: float = 1.6  # such a person's height / width is at least this...
    hog_aspect_hi: float = 5.0  # ... and at most this (the height model learns from them)
    hog_veto_tries: int = 2  # HOG windows scored before a bad best score vetoes a candidate
    sized_lo: float = 0.45  # a candidate's height, in expected heights, is a person's from this...
    sized_hi: float = 2.0  # ... to this
    upright: float = 1.3  # height / width a candidate must have at least (not lying cars or shadows)
    walked: float = 0.5  # heights the foot point must have travelled for a track to have walked
    moving_hits: int = 3  # ... seen at least this many times
    confirm_hits: int = 2  # sightings needed at least before confirming anyone
    inside_hits: int = 3  # sightings needed for someone emerging inside the view (a flicker lasts less)
    edge_grew: float = 1.3  # someone across an edge is coming in once their box grew by this factor...
    edge_moved: float = 0.25  # ... or their foot point moved this share of their larger side
    edge_min_h: float = 0.5  # at a left/right edge they must be this share of the expected height
    edge_cut_area: float = 0.1  # cut by the top/bottom edge, this many expected heights squared of box
    initial_walked: float = 0.25  # heights someone there from the start must move, HOG agreeing (ghosts never move)
    split_alone: int = 2  # sightings on its own a split-off track needs to have walked off alone...
    split_plausible: int = 3  # ... or sightings in a blob no bigger than the people in it
    bigger_ratio: float = 2.0  # a box inside a confirmed person this many times taller is part of them
    closeup_h: float = 0.6  # a person this share of the frame height, at the bottom edge, is a close-up...
    closeup_shoulders: float = 0.5  # ... whose shoulders reach this many visible heights beyond their box
    part_cover: float = 0.7  # share of a box that must lie inside the bigger person's for it to be a part
    still_diff: float = 10.0  # mean grey-level change below which someone who faded into the background is there

    # ---- crossing
    coming_in: float = 0.3  # inward speed (heights per second) of someone at an edge who is still coming in
    exit_lookahead_s: float = 1.0  # seconds a vanished person is extrapolated to see which edge they went out by

    # ---- HOG
    hog_fill: float = 0.75  # share of the 128-pixel window height a person fills in HOG's training data
    hog_min_h: int = 40  # shorter people (analysis-image pixels) are too blurred for HOG
    hog_min_box: float = 4.0  # smallest box height (image px) a window is cut around
    ms_stride: int = 8  # multi-scale fallback: window stride, work pixels
    ms_scale: float = 1.1  # ... pyramid scale step
    ms_hit: float = 0.3  # ... SVM margin a window needs (a little above 0 against clutter)
    squash_slope: float = 1.5  # logistic slope mapping an SVM margin to a 0..1 score
    squash_offset: float = 0.5  # ... centred on a margin of minus this
    unknown_score: float = 0.5  # score of a person HOG never looked at


THRESHOLDS = PeopleThresholds()
"""The values the tracker runs with."""
