"""scripts/train_default.sh: the shipped recipe's commands in order, finished stages skipped on a rerun.

The real recipe takes hours on 2 cores, so `a2m` is replaced here by a stand-in that parses each
command with the real CLI parser (a flag the CLI does not know fails the test), checks that the
named config files exist, records the command and writes what the stage would leave behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "train_default.sh"

STAND_IN = """#!{python}
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from a2m_cli.main import build_parser

args = build_parser().parse_args(sys.argv[1:])
for name in ("config", "init", "model", "evaluator"):
    assert getattr(args, name, None) is None or Path(getattr(args, name)).exists(), (name, sys.argv)
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
if args.command == "train":
    (out / "model").mkdir(exist_ok=True)
    (out / "train_summary.json").write_text("{{}}")
elif args.command == "ship":
    (out / "config.json").write_text("{{}}")
"""


@pytest.fixture
def recipe(tmp_path):
    log = tmp_path / "commands.jsonl"
    a2m = tmp_path / "a2m"
    a2m.write_text(STAND_IN.format(python=sys.executable, repo=str(REPO), log=str(log)))
    a2m.chmod(0o755)
    evaluator = tmp_path / "evaluator"
    evaluator.mkdir()
    (evaluator / "config.json").write_text("{}")

    def run(*, seed: int | None = None, evaluator_dir: Path = evaluator) -> tuple[subprocess.CompletedProcess, list]:
        log.unlink(missing_ok=True)
        env = {**os.environ, "A2M": str(a2m)}
        env.pop("DECODERS_SEED", None)
        if seed is not None:
            env["DECODERS_SEED"] = str(seed)
        done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "run"), str(evaluator_dir)], env=env,
                              capture_output=True, text=True, timeout=120)
        commands = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return done, commands

    return tmp_path / "run", run


def _stages(commands: list) -> list[tuple[str, str]]:
    return [(c[0] if c[0] != "train" else c[1], c[c.index("--out") + 1]) for c in commands]


def test_runs_the_recipe_in_order_then_skips_what_finished(recipe):
    run_dir, run = recipe
    done, commands = run()
    assert done.returncode == 0, done.stderr
    assert _stages(commands) == [("data", f"{run_dir}/data/corpus_m"), ("data", f"{run_dir}/data/corpus_s"),
                                 ("data", f"{run_dir}/data/corpus_u"), ("rvq", f"{run_dir}/rvq"),
                                 ("condition", f"{run_dir}/condition"), ("decoders", f"{run_dir}/decoders"),
                                 ("ship", f"{run_dir}/default")]
    trains = [c for c in commands if c[0] == "train"]
    assert all("--resume" in c for c in trains)  # a killed stage continues from its checkpoint
    condition, decoders = trains[1], trains[2]
    assert condition[condition.index("--init") + 1] == f"{run_dir}/rvq/model"
    assert decoders[decoders.index("--init") + 1] == f"{run_dir}/condition/model"
    assert "--seed" not in decoders
    assert "--seated-endings" in commands[2] and "--seated-endings" not in commands[1]

    done, commands = run()  # a rerun only lets the corpora check themselves
    assert done.returncode == 0, done.stderr
    assert [c[0] for c in commands] == ["data"] * 3
    assert "finished, skipped" in done.stdout and f"ready: {run_dir}/default" in done.stdout


def test_another_decoders_seed_gets_its_own_folders(recipe):
    run_dir, run = recipe
    run()
    done, commands = run(seed=3)
    assert done.returncode == 0, done.stderr
    trains = [c for c in commands if c[0] == "train"]
    assert len(trains) == 1 and trains[0][1] == "decoders"
    assert trains[0][trains[0].index("--seed") + 1] == "3"
    assert _stages(commands)[-2:] == [("decoders", f"{run_dir}/decoders_seed3"), ("ship", f"{run_dir}/default_seed3")]


def test_refuses_a_missing_evaluator_before_any_work(recipe, tmp_path):
    _, run = recipe
    done, commands = run(evaluator_dir=tmp_path / "nowhere")
    assert done.returncode == 2 and "no evaluator" in done.stderr
    assert commands == []
