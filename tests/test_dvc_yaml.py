"""dvc.yaml stays honest: every stage depends on the pipeline code that shapes its outputs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Shared plumbing, deliberately not a dependency (see the comment at the top of dvc.yaml).
PLUMBING = {"pipeline/__init__.py", "pipeline/cli.py", "pipeline/errors.py", "pipeline/fileio.py", "pipeline/params.py",
            "pipeline/paths.py"}
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def pipeline_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipeline":
            if node.module == "pipeline":
                found |= {f"pipeline/{a.name}.py" for a in node.names if (REPO / f"pipeline/{a.name}.py").is_file()}
                found.add("pipeline/__init__.py")
            else:
                found.add(node.module.replace(".", "/") + ".py")
    return found


def code_closure(script: str) -> set[str]:
    seen: set[str] = set()
    todo = [script]
    while todo:
        for module in pipeline_imports(REPO / todo.pop()):
            if module not in seen and (REPO / module).is_file():
                seen.add(module)
                todo.append(module)
    return seen


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_depends_on_its_script_and_the_code_it_runs(name):
    stage = STAGES[name].get("do", STAGES[name])
    script = stage["cmd"].split()[2].replace(".", "/") + ".py"
    deps = {d for d in stage["deps"] if isinstance(d, str)}
    assert script in deps
    missing = code_closure(script) - PLUMBING - deps
    assert not missing, f"stage {name} runs {sorted(missing)} but does not list them in dvc.yaml deps"
    listed_code = {d for d in deps if d.startswith("pipeline/")}
    unused = listed_code - code_closure(script)
    assert not unused, f"stage {name} lists {sorted(unused)} but never imports them"


ENTRY_POINTS = sorted(str(p.relative_to(REPO)) for p in (REPO / "stages").glob("*.py")) + ["pipeline/predict.py"]


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_entry_points_load_pipeline_before_mxnet(script):
    # pipeline/__init__ sets OMP_NUM_THREADS, which OpenMP reads only when mxnet is loaded: an entry
    # point importing mxnet first runs with MXNet's default threads (measured 1.7x slower on 2 cores).
    tree = ast.parse((REPO / script).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert not any(n.split(".")[0] in ("mxnet", "gluonnlp") for n in names), \
                f"{script} imports {names} at top level; import it through pipeline modules instead"
