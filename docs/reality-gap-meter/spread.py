"""The zero-shot model's meter per episode on every source and reversed-steering bag of a run (spread.json).

    python docs/reality-gap-meter/spread.py RUN_DIR OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from redraw_trainer.measure.reality_gap import episode_gaps, pooled

BAGS = {"source": ["source_eval", "source_s3", "source_s4"], "steering_reversed,trim=0.1": ["rev_eval", "rev_s3", "rev_s4"]}


def main(run: Path, out: Path) -> None:
    result = {}
    for domain, names in BAGS.items():
        rows = []
        for name in names:
            if (run / "bags" / name).is_dir():
                for row in episode_gaps(run / "bags" / name, run / "models" / "zero_shot.onnx"):
                    behaviours = json.loads(next((run / "bags" / name).rglob("episodes.json")).read_text())
                    known = row["episode"] < len(behaviours)  # the reader's episodes are the recorded ones unless split
                    rows.append({**row, "bag": name, "behaviour": behaviours[row["episode"]]["behaviour"] if known else "?"})
        result[domain] = {"pooled": pooled(rows), "episodes": rows}
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v["pooled"] for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
