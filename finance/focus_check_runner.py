"""Run focus-validator 1.0.0 on a FOCUS Parquet file; print a JSON summary; exit 1 when a check fails.

Executed by the interpreter of ``.venv-focus`` (see :mod:`finance.focuscheck`), never imported by the
``urbanstack`` package: it only needs what focus-validator brings (pandas, pyarrow, PyYAML).

Usage: ``python focus_check_runner.py DATA.parquet CONFIG.yaml``. CONFIG is ``finance/focus-validator.yaml``:
``overrides`` go to the validator's ``--override-file`` (kept empty: no rule is skipped); ``copies`` add columns
that copy a FOCUS column under the pre-1.0 id a rule still reads; ``renames`` map FOCUS 1.x column ids to the
pre-1.0 ids the validator's rules use; ``hide`` lists columns left out of the copy (the FOCUS 1.3 columns the
validator does not know). The validator itself always exits 0, so its Python API is used and every check's
status is read.
"""

import json
import os
import sys
import tempfile


def main(data: str, config: str) -> int:
    import focus_validator
    import pandas as pd
    import yaml
    from focus_validator.validator import Validator

    config = os.path.abspath(config)
    with open(config, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    frame = pd.read_parquet(data)
    frame = frame.drop(columns=[c for c in (cfg.get("hide") or []) if c in frame.columns])
    for copy, column in (cfg.get("copies") or {}).items():
        if column in frame.columns:
            frame[copy] = frame[column]
    frame = frame.rename(columns=cfg.get("renames") or {})
    with tempfile.TemporaryDirectory() as tmp:
        renamed = os.path.join(tmp, "focus.parquet")
        frame.to_parquet(renamed, index=False)
        # The validator reads its currency list from a path relative to the working directory.
        os.chdir(os.path.dirname(os.path.dirname(focus_validator.__file__)))
        validator = Validator(data_filename=renamed, output_destination=None, output_type="console",
                              rules_version="1.0", override_filename=config)
        validator.load()
        result = validator.spec_rules.validate(validator.focus_data)
    summary = {"rows": len(frame), "passed": [], "failed": [], "errored": [], "skipped": []}
    for name, check in sorted(result.checklist.items()):
        status = check.status.value
        entry = name if status in ("passed", "skipped") else {"check": name, "column": check.column_id,
                                                               "description": check.friendly_name,
                                                               "error": getattr(check, "error", None)}
        summary.setdefault(status, []).append(entry)
    if result.failure_cases is not None:
        summary["failureCases"] = json.loads(result.failure_cases.head(50).to_json(orient="records"))
    print(json.dumps(summary, indent=1, default=str))
    return 1 if summary["failed"] or summary["errored"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
