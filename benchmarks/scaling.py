"""How cost and accuracy grow with data: the real pipeline on nested prefixes of a training split.

    python -m benchmarks.scaling --source ../shared/data/ag_news_52k --sizes 5000 13000 26000 52014
    python -m benchmarks.scaling --source ... --sizes ... --generated   # + the generated 127.6k corpus

For every size N: the first N rows of the source ``train.csv`` (already shuffled, so the prefixes are
nested random samples) and the whole ``test.csv`` go into a folder; a fresh copy of this project (its
git files, no results) in a temporary git repository runs every stage with ``dvc repro --single-item``,
dependencies first (``dvc dag``). Each run is waited for with ``os.wait4``: its wall time and the
peak resident memory of the largest process in its tree. dvc's own process is part of that tree, so a
stage never shows less than ``dvc_floor_mb`` (the peak of a bare ``dvc status``, reported too).

Writes ``<out>/scaling.json`` (every figure), ``scaling.md`` (tables) and ``scaling.png`` (accuracy,
time and memory against training size), with a projection to 120,000 training documents:
accuracy = a + b ln N, time and memory = a + b N, least squares over the measured sizes (two or more;
a single size is measured and reported without a projection).
``--generated`` adds a run on the generated 127,600-document corpus (``benchmarks.corpus``; random
labels, so only its time and memory mean anything, and training stops early: compare seconds/epoch).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from benchmarks.corpus import TEST_DOCS, TRAIN_DOCS, make_texts

log = logging.getLogger("benchmarks")
ROOT = Path(__file__).resolve().parents[1]
PROJECT_SIZE = 120_000  # the full AG News training split: where the projection goes
GENERATED = ("metrics", "plots", "reports", "dvc.lock", "data", "models")  # results of this checkout's own run
RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)
NODE = re.compile(r'^"([^"]+)";$', re.MULTILINE)
EDGE = re.compile(r'^"([^"]+)" -> "([^"]+)";$', re.MULTILINE)
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
    """A wrong option or source folder: reported as one ``error:`` line, exit code 2."""


def read_rows(path: Path, limit: int | None = None) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = []
        for row in csv.reader(fh):
            if limit is not None and len(rows) == limit:
                break
            rows.append(row)
    return rows


def write_rows(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def write_subset(source: Path, n: int, dest: Path) -> None:
    """The first ``n`` rows of ``source/train.csv`` and all of ``source/test.csv`` into ``dest``."""
    dest.mkdir(parents=True)
    write_rows(dest / "train.csv", read_rows(source / "train.csv", n))
    shutil.copy2(source / "test.csv", dest / "test.csv")


def write_generated(dest: Path) -> None:
    """The generated corpus as AG News CSVs: 120,000 training and 7,600 test rows (text in the title)."""
    texts, labels = make_texts(TRAIN_DOCS + TEST_DOCS, vocab_size=67_000)
    rows = [(int(label) + 1, text, "") for text, label in zip(texts, labels, strict=True)]
    dest.mkdir(parents=True)
    write_rows(dest / "train.csv", rows[:TRAIN_DOCS])
    write_rows(dest / "test.csv", rows[TRAIN_DOCS:])


def project_files() -> list[str]:
    """This checkout's tracked files and untracked files that git does not ignore."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if (ROOT / f).is_file()]


def subset_params(params: dict, approaches: list[str] | None, baselines: list[str] | None) -> dict:
    """``params`` with only the named approaches (and baselines, where params has a ``baselines`` section)."""
    if approaches:
        unknown = [a for a in approaches if a not in params["approaches"]]
        if unknown:
            raise BadInput(f"--approaches: unknown {', '.join(unknown)}; known: {', '.join(params['approaches'])}")
        params["approaches"] = {a: params["approaches"][a] for a in approaches}
        params["reference"] = {a: v for a, v in (params.get("reference") or {}).items() if a in approaches}
    if baselines:
        known = params.get("baselines")
        if not isinstance(known, dict) or any(b not in known for b in baselines):
            raise BadInput(f"--baselines: {', '.join(baselines)} not all in params' baselines "
                           f"({', '.join(known) if isinstance(known, dict) else 'none: one `baseline` section'})")
        params["baselines"] = {b: known[b] for b in baselines}
    return params


def make_project(dest: Path, params: dict, env: dict) -> None:
    """A copy of this project without results, with ``params``, as its own git repository."""
    for name in project_files():
        if name.split("/")[0] in GENERATED:
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "scaling run"]):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)


def run_measured(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Run ``cmd``; return wall seconds, peak RSS (MB) of the largest process in its tree, and its output."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4 reports the child's rusage merged with every descendant it waited for (dvc waits for
        # the stage): ru_maxrss is then the peak of the largest of them, in KiB on Linux.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}) in {cwd}:\n{output[-4000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def stage_order(root: Path, env: dict) -> list[str]:
    """Every stage, dependencies first (``dvc dag --dot``), otherwise in ``dvc.yaml`` order."""
    dot = subprocess.run(["dvc", "dag", "--dot"], cwd=root, env=env, check=True, capture_output=True,
                         text=True).stdout
    nodes = NODE.findall(dot)
    after: dict[str, set[str]] = {node: set() for node in nodes}
    for before, node in EDGE.findall(dot):
        after[node].add(before)
    order: list[str] = []
    while len(order) < len(nodes):
        ready = [n for n in nodes if n not in order and after[n] <= set(order)]
        if not ready:
            raise RuntimeError(f"dvc dag --dot in {root} has a cycle:\n{dot}")
        order.append(ready[0])
    return order


def read_metrics(root: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Test accuracy of every approach and baseline, and epochs run per approach, from the metrics files.

    Baselines: ``metrics/baseline/<name>.json`` (one per baseline) or the older single
    ``metrics/baseline.json`` (named ``baseline``).
    """
    metrics = root / "metrics"
    files = {p.stem: p for p in sorted((metrics / "eval").glob("*.json"))}
    files.update({f"baseline:{p.stem}": p for p in sorted((metrics / "baseline").glob("*.json"))})
    if (metrics / "baseline.json").is_file():
        files["baseline"] = metrics / "baseline.json"
    accuracy = {name: float(json.loads(path.read_text())["accuracy"]) for name, path in files.items()}
    epochs = {p.stem: int(json.loads(p.read_text())["epochs_run"]) for p in sorted((metrics / "train").glob("*.json"))
              if "epochs_run" in json.loads(p.read_text())}
    return accuracy, epochs


def measure_size(data: Path, params: dict, work: Path, env: dict, label: str) -> dict:
    """One full pipeline run on the corpus in ``data``, stage by stage."""
    root = work / "project"
    root.mkdir()
    env = {**env, "AGNEWS_SOURCE": str(data)}
    make_project(root, params, env)
    order = stage_order(root, env)
    stages = {}
    for stage in tqdm(order, desc=f"stages ({label})", leave=False):
        seconds, peak_mb, _ = run_measured(["dvc", "repro", "--single-item", stage], root, env)
        stages[stage] = {"seconds": round(seconds, 2), "peak_mb": round(peak_mb)}
    noop_s, _, output = run_measured(["dvc", "repro"], root, env)  # dvc's own checking when nothing changed
    # `download` always runs (DVC cannot see $AGNEWS_SOURCE) and keeps its data: any other stage is a fault.
    if set(RUNNING_STAGE.findall(output)) - {"download"}:
        raise RuntimeError(f"`dvc repro` after running every stage ran one again:\n{output[-2000:]}")
    _, floor_mb, _ = run_measured(["dvc", "status"], root, env)
    accuracy, epochs = read_metrics(root)
    return {"train_documents": sum(1 for _ in read_rows(data / "train.csv")),
            "stages": stages, "total_s": round(sum(s["seconds"] for s in stages.values()), 2),
            "noop_repro_s": round(noop_s, 2), "dvc_floor_mb": round(floor_mb),
            "peak_mb": max(s["peak_mb"] for s in stages.values()), "accuracy": accuracy, "epochs_run": epochs}


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` through two or more points."""
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def project(runs: list[dict], size: int = PROJECT_SIZE) -> dict:
    """Accuracy a + b ln N, time and memory a + b N, fitted on the measured runs, evaluated at ``size``."""
    n = np.array([r["train_documents"] for r in runs], dtype=float)
    model = {"accuracy": "a + b ln N (within 0..1)", "seconds, peak_mb": "a + b N (at least the largest measured)"}
    out: dict = {"train_documents": size, "model": model, "accuracy": {}, "stages": {}}
    for name in runs[0]["accuracy"]:
        a, b = fit_line(np.log(n), np.array([r["accuracy"][name] for r in runs]))
        out["accuracy"][name] = {"value": round(float(np.clip(a + b * np.log(size), 0.0, 1.0)), 4), "a": a, "b": b}
    for stage in runs[0]["stages"]:
        fitted = {}
        for key in ("seconds", "peak_mb"):
            measured = np.array([r["stages"][stage][key] for r in runs], dtype=float)
            a, b = fit_line(n, measured)
            fitted[key] = round(max(a + b * size, measured.max()), 1)  # more data never costs less
        out["stages"][stage] = fitted
    measured = np.array([r["total_s"] for r in runs])
    a, b = fit_line(n, measured)
    out["total_s"] = round(max(a + b * size, measured.max()), 1)
    out["peak_mb"] = max(s["peak_mb"] for s in out["stages"].values())
    return out


def render(result: dict) -> str:
    runs, proj = result["runs"], result["projection"]  # no projection from a single size
    names = list(runs[0]["accuracy"])
    lines = ["Test accuracy and cost per training size (time: every stage run by `dvc repro --single-item`; "
             f"memory: largest process of a stage, dvc's own ~{runs[0]['dvc_floor_mb']} MB included).", "",
             "| training documents | " + " | ".join(names) + " | total s | peak MB |",
             "|---" * (len(names) + 3) + "|"]
    for r in runs:
        lines.append(f"| {r['train_documents']:,} | " + " | ".join(f"{100 * r['accuracy'][a]:.2f} %" for a in names)
                     + f" | {r['total_s']:.0f} | {r['peak_mb']} |")
    if proj:
        lines.append(f"| {proj['train_documents']:,} (projected) | "
                     + " | ".join(f"{100 * proj['accuracy'][a]['value']:.1f} %" for a in names)
                     + f" | {proj['total_s']:.0f} | {proj['peak_mb']:.0f} |")
    extra = result.get("generated")
    columns = [f"{r['train_documents']:,}" for r in runs]
    if proj:
        columns.append(f"{proj['train_documents']:,} (projected)")
    if extra:
        columns.append(f"{extra['train_documents']:,} (generated)")
    lines += ["", "Seconds / peak MB per stage:", "", "| stage | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 1) + "|"]
    for stage in runs[0]["stages"]:
        cells = [f"{r['stages'][stage]['seconds']:.1f} / {r['stages'][stage]['peak_mb']}" for r in runs]
        if proj:
            cells.append(f"{proj['stages'][stage]['seconds']:.0f} / {proj['stages'][stage]['peak_mb']:.0f}")
        if extra:
            got = extra["stages"].get(stage)
            cells.append(f"{got['seconds']:.1f} / {got['peak_mb']}" if got else "-")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines += ["", f"Projection: {proj['model']['accuracy']} for accuracy, {proj['model']['seconds, peak_mb']} "
              "for seconds and memory, least squares over the measured sizes." if proj
              else "No projection: it needs two or more sizes."]
    if extra:
        lines.append(f"Generated corpus (random labels, time and memory only): epochs run {extra['epochs_run']}, "
                     f"total {extra['total_s']:.0f} s.")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, proj = result["runs"], result["projection"]
    n = np.array([r["train_documents"] for r in runs], dtype=float)
    grid = np.geomspace(n.min(), max(n.max(), proj["train_documents"] if proj else 0), 50)
    fig, (acc_ax, time_ax, mem_ax) = plt.subplots(1, 3, figsize=(16, 5))
    for name in runs[0]["accuracy"]:
        line, = acc_ax.plot(n, [100 * r["accuracy"][name] for r in runs], "o-", label=name)
        if proj:
            fit = proj["accuracy"][name]
            acc_ax.plot(grid, 100 * np.clip(fit["a"] + fit["b"] * np.log(grid), 0, 1), ":", color=line.get_color())
    acc_ax.set(xscale="log", xlabel="training documents", ylabel="test accuracy (%)",
               title="accuracy (dotted: a + b ln N)")
    acc_ax.legend(fontsize="small")
    time_ax.plot(n, [r["total_s"] for r in runs], "o-", label="all stages")
    train = [s for s in runs[0]["stages"] if s.startswith("train")]
    time_ax.plot(n, [sum(r["stages"][s]["seconds"] for s in train) for r in runs], "s-", label="train stages")
    mem_ax.plot(n, [r["peak_mb"] for r in runs], "o-", label="largest stage")
    if proj:
        time_ax.plot([proj["train_documents"]], [proj["total_s"]], "k*", label="projected (a + b N)")
        mem_ax.plot([proj["train_documents"]], [proj["peak_mb"]], "k*", label="projected (a + b N)")
    extra = result.get("generated")
    if extra:
        time_ax.plot([extra["train_documents"]], [extra["total_s"]], "rx", label="generated corpus")
        mem_ax.plot([extra["train_documents"]], [extra["peak_mb"]], "rx", label="generated corpus")
    time_ax.set(xlabel="training documents", ylabel="seconds", title="wall time")
    mem_ax.set(xlabel="training documents", ylabel="MB", title="peak resident memory")
    for ax in (time_ax, mem_ax):
        ax.legend(fontsize="small")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, required=True, help="folder with AG News train.csv and test.csv")
    p.add_argument("--sizes", type=int, nargs="+", required=True,
                   help="training rows per run (nested prefixes; two or more for a projection)")
    p.add_argument("--approaches", nargs="*", help="subset of approach names (default: all in params)")
    p.add_argument("--baselines", nargs="*", help="subset of baseline names (default: all in params)")
    p.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file for the runs")
    p.add_argument("--generated", action="store_true", help="also run the generated 127.6k corpus (time, memory)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "scaling")
    p.add_argument("--work", type=Path, help="new folder to keep the run projects in (default: a temporary one)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        for name in ("train.csv", "test.csv"):
            if not (args.source / name).is_file():
                raise BadInput(f"{args.source / name}: not found; --source must hold AG News train.csv and test.csv")
        if any(n < 1 for n in args.sizes):
            raise BadInput(f"--sizes: {args.sizes}: expected positive row counts")
        rows = len(read_rows(args.source / "train.csv", max(args.sizes)))
        if rows < max(args.sizes):  # before any run: a late refusal would waste the runs before it
            raise BadInput(f"{args.source / 'train.csv'}: has {rows} rows, --sizes asks for {max(args.sizes)}")
        if args.work and args.work.exists():
            raise BadInput(f"--work {args.work}: exists already; give a new folder")
        params = yaml.safe_load(args.params.read_text(encoding="utf-8"))
        params = subset_params(params, args.approaches, args.baselines)
    except (BadInput, OSError, UnicodeDecodeError, csv.Error, yaml.YAMLError) as exc:
        log.error("error: %s", exc)
        return EXIT_BAD_INPUT
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.setdefault("GIT_AUTHOR_NAME", "scaling")
    env.setdefault("GIT_AUTHOR_EMAIL", "scaling@localhost")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    work = args.work or Path(tempfile.mkdtemp(prefix="agnews_scaling_"))
    if args.work:
        work.mkdir(parents=True)
    result: dict = {"source": str(args.source), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "cpus": len(os.sched_getaffinity(0)), "runs": []}
    try:
        for n in sorted(set(args.sizes)):
            log.info("pipeline on the first %d training rows", n)
            write_subset(args.source, n, work / f"n{n}" / "data")
            result["runs"].append(measure_size(work / f"n{n}" / "data", params, work / f"n{n}", env, f"{n:,} rows"))
        if args.generated:
            log.info("pipeline on the generated %d-document corpus (time and memory only)", TRAIN_DOCS + TEST_DOCS)
            write_generated(work / "generated" / "data")
            extra = measure_size(work / "generated" / "data", params, work / "generated", env, "generated")
            extra.pop("accuracy")  # random labels: chance level says nothing
            result["generated"] = extra
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    result["projection"] = project(result["runs"]) if len(result["runs"]) > 1 else None
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "scaling.json", json.dumps(result, indent=2) + "\n")
    table = render(result)
    write_text(args.out / "scaling.md", table + "\n")
    plot(result, args.out / "scaling.png")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
