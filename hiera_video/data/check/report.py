"""The report: every video's status and problems, counts per split and kind; writes the cleaned lists."""
import os
import time
from collections import Counter
from typing import Dict, List

from .outputs import TOOL, VERSION, write_new
from .scan import PROBLEMS, WARNINGS

def _status(problems: List[Dict]) -> str:
    if any(p["kind"] not in WARNINGS for p in problems):
        return "problem"
    return "warning" if problems else "ok"


def assemble(cfg, sources, records: Dict[str, Dict], written: Dict[str, str], videos_dir: str) -> Dict:
    """Build the report from the records and write the cleaned lists (recorded in ``written``)."""
    videos, splits, total = [], {}, Counter()
    for s in sources:
        bad, counts, status = set(), Counter(), Counter()
        for i, key in enumerate(s.keys):
            r = records[key]
            problems = r["problems"] + s.extra_problems(i)
            entry = {"split": s.split, "path": r["path"], "status": _status(problems), "problems": problems,
                     "info": r["info"]}
            if s.labelled:
                entry["label"] = s.dataset.labels[i]
            if entry["status"] == "problem":
                bad.add(i)
            status[entry["status"]] += 1
            counts.update(p["kind"] for p in problems)
            videos.append(entry)
        bad_lines = getattr(s, "bad_lines", [])
        if bad_lines:
            counts["bad_line"] = len(bad_lines)
        clean = s.clean_text(bad)
        for path, data in clean.items():
            written[os.path.abspath(path)] = write_new(path, data)
        splits[s.split] = {"lists": getattr(s, "list_files", None) or [s.list_file or videos_dir],
                           "clean_lists": sorted(clean), "videos": len(s.keys), "ok": status["ok"],
                           "warnings": status["warning"], "problems": status["problem"],
                           "bad_lines": len(bad_lines), "counts": dict(counts), "bad_line_list": bad_lines}
        total.update(counts)
    summary = {k: sum(v[k] for v in splits.values()) for k in ("videos", "ok", "warnings", "problems", "bad_lines")}
    summary["counts"] = dict(total)
    kinds = {k: {**PROBLEMS, **WARNINGS}[k] for k in sorted(total)}
    return {"tool": TOOL, "version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dataset": sources[0].dataset_name, "backend": cfg.DATA.DECODING_BACKEND,
            "data_dir": videos_dir or cfg.DATA.PATH_TO_DATA_DIR, "summary": summary, "kinds": kinds,
            "splits": splits, "videos": videos, "written": written}
