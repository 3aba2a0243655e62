"""Sharing artifacts between machines (README, "Share artifacts: DVC remote"), with the real `git` and `dvc`.

Two "machines" are two clones of one bare git repository that share a DVC remote: a local folder (what
`.dvc/config` gives out of the box) or a bucket on an S3-compatible server (moto's, started on localhost
by this module). Clone A is a copy of the session's built project (``dvc_project``: tiny params, full
`dvc repro`); it pushes. Fresh clones pull and must never train (their corpus source does not exist):
clone B pulls branches from the folder, clone C an experiment from the S3 bucket.

Every clone points its default remote at this test's remote in `.dvc/config.local` (never committed), so
a test run never pushes into the user's real default remote.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.dvc_project import (
    SMALL_APPROACHES,
    TEXTS,
    approach_stages,
    check_rows,
    copy_project,
    predict,
    read_json,
    repro,
    run,
    stages_run,
)

pytestmark = pytest.mark.integration

DEFAULT_REMOTE = "shared"  # the remote .dvc/config names
BUCKET = "agnews-dvc"
# `download` is always changed (DVC cannot see $AGNEWS_SOURCE); it then keeps its recorded data.
UP_TO_DATE = "download:\n\talways changed\n"
EXP = "uni-h12"
BRANCH = "wider-uni"  # the experiment as a git branch


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free localhost port, with one empty bucket; its URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def use_remote(root: Path, env: dict, remote: SimpleNamespace) -> None:
    """Point this clone's default DVC remote at the test's remote, as the README tells a user to, but
    with --local (in .dvc/config.local, which git ignores)."""
    if remote.kind == "folder":
        run(["dvc", "remote", "modify", "--local", DEFAULT_REMOTE, "url", remote.url], root, env)
        run(["dvc", "remote", "default", "--local", DEFAULT_REMOTE], root, env)
    else:
        run(["dvc", "remote", "add", "--local", "-d", "store", remote.url], root, env)
        run(["dvc", "remote", "modify", "--local", "store", "endpointurl", remote.endpoint], root, env)
    listed = remotes(root, env)
    assert (remote.url, True) in listed.values(), listed


def remotes(root: Path, env: dict) -> dict[str, tuple[str, bool]]:
    """`dvc remote list`: name -> (url, is the default)."""
    lines = run(["dvc", "remote", "list"], root, env).stdout.split("\n")
    return {f[0]: (f[1], f[2:] == ["(default)"]) for f in map(str.split, lines) if f}


def test_test_projects_never_push_to_the_users_remote(dvc_project, tmp_path):
    root, env = dvc_project
    for project in (root, copy_project(dvc_project, tmp_path / "copy")[0]):
        url, default = remotes(project, env)[DEFAULT_REMOTE]
        assert Path(url).is_relative_to(root.parent) and default, url
        assert ".cache/agnews-lstm-dvc" in (project / ".dvc/config").read_text()  # the committed default is kept


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def checkpoints(root: Path) -> dict[str, str]:
    return {name: md5(root / f"models/{name}/model.params") for name in SMALL_APPROACHES}


def pulled_files(root: Path) -> list[Path]:
    """The DVC-cached outputs a clone needs to predict and to skip every stage."""
    return [root / p for p in ("data/raw/train.csv", "data/raw/test.csv", "data/vocab.json",
                               "data/cache/train.npz", "data/cache/val.npz", "data/cache/test.npz",
                               *(f"models/{name}/{f}" for name in SMALL_APPROACHES
                                 for f in ("model.params", "spec.json")))]


@pytest.fixture(scope="module")
def shared(dvc_project, tmp_path_factory, s3_endpoint) -> SimpleNamespace:
    """Clone A: the built project with a bare `origin`; `main` pushed to git and to A's default DVC remote,
    the folder. Then experiment EXP, run in A and pushed with `dvc exp push origin` to the S3 bucket (A's
    default remote for that push; the bucket held nothing before), and made a branch (`dvc exp branch`)
    pushed to git and to the folder. One training serves both tests."""
    tmp = tmp_path_factory.mktemp("share")
    a, env = copy_project(dvc_project, tmp / "a")
    remotes = {"folder": SimpleNamespace(kind="folder", url=str(tmp / "dvc-remote")),
               "s3": SimpleNamespace(kind="s3", url=f"s3://{BUCKET}/agnews", endpoint=s3_endpoint)}
    # Credentials for the local S3 server; no user AWS config may interfere.
    env = {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials")}
    origin = tmp / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp, env)
    run(["git", "remote", "add", "origin", str(origin)], a, env)
    use_remote(a, env, remotes["s3"])
    use_remote(a, env, remotes["folder"])  # and the folder the default again

    def push(branch: str) -> None:
        run(["git", "push", "-q", "origin", branch], a, env)
        out = run(["dvc", "push"], a, env).stdout
        assert re.search(r"\b\d+ files? pushed", out), out

    push("main")
    main_checkpoints = checkpoints(a)
    main_predictions = predict(a, env, "--approach", "bi", *TEXTS).stdout

    ran = repro(a, env, "exp", "run", "-n", EXP, "-S", "approaches.uni.hidden=[12]")
    assert set(ran) == approach_stages("uni"), ran
    accuracy = read_json(a / "metrics/eval/uni.json")["accuracy"]
    exp_checkpoints = checkpoints(a)  # the workspace holds the experiment's results
    assert exp_checkpoints["uni"] != main_checkpoints["uni"]
    run(["dvc", "remote", "default", "--local", "store"], a, env)
    out = run(["dvc", "exp", "push", "origin", EXP], a, env).stdout
    assert EXP in out and re.search(r"\b\d+ files? uploaded", out), out
    run(["dvc", "remote", "default", "--local", DEFAULT_REMOTE], a, env)
    run(["dvc", "exp", "branch", EXP, BRANCH], a, env)
    push(BRANCH)

    return SimpleNamespace(a=a, env=env, tmp=tmp, origin=origin, remotes=remotes, main=main_checkpoints,
                           exp=exp_checkpoints, accuracy=accuracy, main_predictions=main_predictions)


def fresh_clone(shared: SimpleNamespace, name: str, kind: str) -> tuple[Path, dict]:
    """A new "machine": `git clone` of origin and its DVC remote set. It reads the corpus from the same
    source as clone A (as `metrics/data.json` records), so `download` keeps the pulled data."""
    root = shared.tmp / name
    run(["git", "clone", "-q", str(shared.origin), str(root)], shared.tmp, shared.env)
    env = dict(shared.env)
    # Out of the box the clone's default remote is the folder in the user's cache directory ...
    assert remotes(root, env)[DEFAULT_REMOTE] == (f"{Path.home()}/.cache/agnews-lstm-dvc/remote", True)
    # ... which this test replaces with its own.
    use_remote(root, env, shared.remotes[kind])
    return root, env


def test_fresh_clone_pulls_instead_of_retraining(shared):
    b, env = fresh_clone(shared, "b", "folder")
    assert not any(p.exists() for p in pulled_files(b))

    out = run(["dvc", "pull"], b, env).stdout
    assert stages_run(out) == [] and all(p.is_file() for p in pulled_files(b)), out
    assert checkpoints(b) == shared.main
    assert run(["dvc", "status"], b, env).stdout == UP_TO_DATE
    assert repro(b, env) == []  # only `download` ran (it keeps the pulled data): nothing to train
    assert checkpoints(b) == shared.main
    out = predict(b, env, "--approach", "bi", *TEXTS).stdout
    check_rows([json.loads(line) for line in out.splitlines()], TEXTS)
    assert out == shared.main_predictions  # the same model as clone A's

    # Another branch's models: `git checkout` + `dvc pull` fetches and swaps them in.
    run(["git", "checkout", "-q", BRANCH], b, env)
    assert "modified" in run(["dvc", "status"], b, env).stdout  # the workspace still holds main's uni
    run(["dvc", "pull"], b, env)
    assert checkpoints(b) == shared.exp
    assert run(["dvc", "status"], b, env).stdout == UP_TO_DATE
    # Back: both versions are now in the local cache, so `dvc checkout` (which never reads a remote) suffices.
    run(["git", "checkout", "-q", "main"], b, env)
    run(["dvc", "checkout"], b, env)
    assert checkpoints(b) == shared.main
    assert run(["dvc", "status"], b, env).stdout == UP_TO_DATE


def test_experiment_pushed_from_one_clone_applied_in_another(shared):
    accuracy, checkpoint = shared.accuracy, shared.exp["uni"]
    c, env_c = fresh_clone(shared, "c", "s3")  # the S3 bucket holds only what `dvc exp push` uploaded
    out = run(["dvc", "exp", "pull", "origin", EXP], c, env_c).stdout
    assert EXP in out, out
    shown = json.loads(run(["dvc", "exp", "show", "--json"], c, env_c).stdout)
    main = next(entry for entry in shown if entry.get("name") == "main")
    exps = {exp["name"]: exp["revs"][0]["data"] for exp in main["experiments"]}
    assert set(exps) == {EXP}
    assert exps[EXP]["params"]["params.yaml"]["data"]["approaches"]["uni"]["hidden"] == [12]
    assert exps[EXP]["metrics"]["metrics/eval/uni.json"]["data"]["accuracy"] == accuracy
    table = run(["dvc", "exp", "show", "--md", "--drop", ".*", "--keep", "Experiment|metrics/eval/uni.json:accuracy"],
                c, env_c).stdout
    assert re.search(rf"\[{EXP}\]\s*\|\s*{re.escape(str(accuracy))}\s*\|", table), table

    out = run(["dvc", "exp", "apply", EXP], c, env_c).stdout
    assert stages_run(out) == []
    assert read_json(c / "models/uni/spec.json")["model"]["hidden"] == [12]
    assert md5(c / "models/uni/model.params") == checkpoint  # clone A's trained weights, not retrained
    assert run(["dvc", "status"], c, env_c).stdout == UP_TO_DATE
    assert repro(c, env_c) == []
    assert md5(c / "models/uni/model.params") == checkpoint
    out = predict(c, env_c, "--approach", "uni", *TEXTS).stdout
    check_rows([json.loads(line) for line in out.splitlines()], TEXTS)
