"""Build hostile.json from the lab golden results.json: host data full of markup and junk.

Run: .venv/bin/python tests/golden/report/make_hostile.py  (rewrites hostile.json next to it)
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
JUNK = "<script>alert('x')</script> a|b `tick` \x1b[31mRED\x1b[0m ]]> \x00\x01\x0b\x7f \ufffe & end\nsecond line"

doc = json.loads((HERE / "results.json").read_text(encoding="utf-8"))
default = next(h for h in doc["hosts"] if h["name"] == "default")
evil = json.loads(json.dumps(default))
evil["name"] = "web<script>alert(1)</script>|01"
for c in evil["checks"]:
    c["message"] = f"{c['message'][:80]} {JUNK}"
    c["evidence"]["excerpt"] = f"{JUNK}\n{c['evidence']['excerpt'][:200]}"
    c["evidence"]["facts"]["hostile"] = JUNK
gone = {
    "name": "gone|<b>x</b>",
    "platform": "linux",
    "status": "unreachable",
    "message": "connect to 127.0.0.1:1: Connection refused <i>\x1b[2J",
    "address": "127.0.0.1:1",
    "duration_s": 0.01,
    "checks": [],
}
doc["hosts"] = [*doc["hosts"], evil, gone]
doc["summary"]["hosts"] = len(doc["hosts"])
(HERE / "hostile.json").write_text(json.dumps(doc, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
