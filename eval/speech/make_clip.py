"""Write the speech evaluation's clip, ``speech_talk.mp4``: espeak-ng phrases at known times.

    python eval/speech/make_clip.py FOLDER      # then: onlook eval eval/speech/questions.json --footage FOLDER

Needs espeak-ng (``apt-get install espeak-ng``). The phrases and their start times are the ground
truth of questions.json and alerts.json beside this file; the spans it prints are where each phrase's
sound begins and ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from onlook.eval.speech_clip import make_speech_clip

PHRASES = [
    (3.0, "Good morning. The delivery van will arrive at noon."),
    (12.0, "Help!"),
    (20.0, "Please put the cover on the grill."),
    (30.0, "The alarm is ringing, everyone go outside."),
]
SECONDS = 40.0

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    spans = make_speech_clip(out / "speech_talk.mp4", PHRASES, seconds=SECONDS)
    print(json.dumps([{"start": round(a, 2), "end": round(b, 2), "text": t} for a, b, t in spans], indent=1))
