"""bench.launch: the job graph of a codec x task matrix, launcher options, the submission order and
dependencies (a fake backend, and slurm through a fake sbatch), the job's own state reports, ``bench status``
from a state file; slow: a 2 codec x 1 task matrix through submitit's local executor (and a local Ray
instance) gives the records of ``--launcher local``, and a killed job resumes without redoing a finished stage."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lm_fixtures import DIM, ProjectionRVQ, make_manifest, register
from test_tasks_pipeline import TINY, _strip
from typer.testing import CliRunner

import bench.data
from bench.cli import app
from bench.codecs import CODECS
from bench.config import preset_variant
from bench.launch import LauncherError, LauncherOptions, graph, load_options, state
from bench.launch import launcher as launcher_mod
from bench.launch.job import Job
from bench.tasks.config import load_task_config
from bench.tasks.lm.train import KILL_ENV
from bench.tasks.runner import run_dir_of
from bench.tasks.tokens import codec_identity

TESTS = Path(__file__).resolve().parent
VARIANT = preset_variant("smoke", TINY)
CODECS2 = ["test-rpq", "test-rpq-b"]


class OtherRVQ(ProjectionRVQ):
    """A second fixture codec (other codebooks), so the matrix has two codecs."""

    name = "test-rpq-b"

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        g = torch.Generator().manual_seed(1)
        self.books = torch.randn(8, self.codebooks, DIM, generator=g) * torch.logspace(0, -1.5, 8)[:, None, None]


def fixtures(job: Job | None = None, manifest: str | None = None, kill: str | None = None) -> None:
    """The fixture codecs and metric, the fixture manifest, and (``kill``: a job key) a kill in the LM's
    training: in the test and, as a job's ``setup``, in each job's process."""
    register()
    if "test-rpq-b" not in CODECS:
        CODECS.register("test-rpq-b", OtherRVQ)
    if manifest is not None:
        bench.data.ensure_built = lambda recipe, preset, data_dir=None, overrides=(): Path(manifest)
    if job is not None:
        if kill == job.key:
            os.environ[KILL_ENV] = "nar:5"
        else:
            os.environ.pop(KILL_ENV, None)  # a Ray worker runs one job after another


def slow_second_lm(job: Job, manifest: str, mark: str) -> None:
    """``fixtures``, and the cell's second LM waits a minute before it trains, once (``mark``): a window in which
    the test pre-empts the job."""
    import bench.tasks.runner as runner

    fixtures(job, manifest=manifest)
    train_stage = runner.train_stage

    def slow(task_obj, ctx, stage, *a, **k):
        if stage == "nar" and not Path(mark).exists():
            Path(mark).touch()
            time.sleep(60)
        return train_stage(task_obj, ctx, stage, *a, **k)

    runner.train_stage = slow


@pytest.fixture
def fx():
    fixtures()


def _run_dir(task: str, codec: str, root: Path) -> Path:
    return run_dir_of(task, codec, VARIANT, load_task_config(task, "smoke", TINY), root)


def _write(p: Path, obj) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj))


# -- the job graph ------------------------------------------------------------------------------------
def test_graph_one_codec_job_per_codec_then_its_cells(fx, tmp_path):
    g = graph.build(["tts", "music"], CODECS2, "smoke", TINY, data_dir=tmp_path)
    assert g.variant == VARIANT and len(g.todo) == 4 and not g.skipped
    assert g.codec_jobs == {"test-rpq": ["tts", "music"], "test-rpq-b": ["tts", "music"]}  # trains once per codec
    assert {c.key: g.depends_on(c) for c in g.todo} == {
        "tts/test-rpq": "codec:test-rpq", "music/test-rpq": "codec:test-rpq",
        "tts/test-rpq-b": "codec:test-rpq-b", "music/test-rpq-b": "codec:test-rpq-b"}
    assert not (tmp_path / "runs").exists()  # building the graph writes nothing


def test_graph_skips_done_cells_and_codecs_whose_tokens_are_ready(fx, tmp_path):
    _write(_run_dir("tts", "test-rpq", tmp_path) / "done.json", {"codec_id": codec_identity(ProjectionRVQ())})
    for task in ("tts", "music"):
        _write(_run_dir(task, "test-rpq-b", tmp_path) / "state.json", {})
    g = graph.build(["tts", "music"], CODECS2, "smoke", TINY, data_dir=tmp_path)
    assert [c.key for c in g.skipped] == ["tts/test-rpq"]
    assert g.codec_jobs == {"test-rpq": ["music"]}  # test-rpq-b's tokens are ready: no codec job
    assert {c.key: g.depends_on(c) for c in g.todo} == {
        "music/test-rpq": "codec:test-rpq", "tts/test-rpq-b": None, "music/test-rpq-b": None}
    assert len(graph.build(["tts"], CODECS2, "smoke", TINY, force=True, data_dir=tmp_path).todo) == 2


def test_graph_reruns_a_cell_finished_for_other_codec_weights(fx, tmp_path):
    _write(_run_dir("tts", "test-rpq", tmp_path) / "done.json", {"codec_id": "old-weights"})
    assert not graph.build(["tts"], ["test-rpq"], "smoke", TINY, data_dir=tmp_path).skipped


def test_graph_checks_names_first(fx, tmp_path):
    from bench.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean .test-rpq."):
        graph.build(["tts"], ["test-rpk"], "smoke", TINY, data_dir=tmp_path)


# -- launcher options ---------------------------------------------------------------------------------
def test_parallel_jobs_on_this_machine_share_its_cores():
    """Jobs run at once here each get their share of the cores; cpus_per_task wins; slurm and a Ray cluster
    elsewhere keep the libraries' default unless cpus_per_task is given."""
    assert load_options("submitit-local", array_parallelism=2).threads(cpu_count=8) == 4
    assert load_options("submitit-local", array_parallelism=3).threads(cpu_count=2) == 1
    assert load_options("submitit-local").threads(cpu_count=8) == 0  # one job at a time: all cores
    assert load_options("ray", array_parallelism=4).threads(cpu_count=16) == 4
    assert load_options("ray", array_parallelism=4, address="auto").threads(cpu_count=16) == 0
    assert load_options("slurm", array_parallelism=4).threads(cpu_count=16) == 0
    assert load_options("slurm", cpus_per_task=6).threads(cpu_count=16) == 6
    assert load_options("submitit-local", array_parallelism=2, cpus_per_task=3).threads(cpu_count=8) == 3


def test_a_job_caps_its_threads_for_torch_and_for_what_reads_omp_num_threads():
    import subprocess
    import sys

    code = ("import os, torch; from bench.launch.job import use_threads; before = torch.get_num_threads(); "
            "use_threads({n}); print(before, torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    capped = subprocess.run([sys.executable, "-c", code.format(n=1)], env=env, capture_output=True, text=True,
                            check=True).stdout.split()
    assert capped[1:] == ["1", "1"]
    kept = subprocess.run([sys.executable, "-c", code.format(n=0)], env=env, capture_output=True, text=True,
                          check=True).stdout.split()
    assert kept[1] == kept[0] and kept[2] == "None"


def test_options_from_yaml_with_command_line_on_top(tmp_path):
    cfg = tmp_path / "slurm.yaml"
    cfg.write_text("partition: gpu\ngpus_per_node: 2\ntime: '2:00:00'\narray_parallelism: 8\n"
                   "setup: ['module load cuda']\nslurm: {account: abc, qos: high}\n")
    o = load_options("slurm", cfg, partition="debug", gpus_per_node=None)
    assert (o.partition, o.gpus_per_node, o.timeout_min, o.array_parallelism) == ("debug", 2, 120, 8)
    assert o.setup == ("module load cuda",) and o.slurm == {"account": "abc", "qos": "high"} and not o.waits
    assert load_options("submitit-local").waits and load_options("ray", time=90).timeout_min == 90
    p = launcher_mod.submitit_parameters(o, "slurm", 2)
    assert p["slurm_partition"] == "debug"
    assert p["slurm_additional_parameters"] == {"account": "abc", "qos": "high", "kill_on_invalid_dep": "yes"}
    assert p["gpus_per_node"] == 2 and p["tasks_per_node"] == 1 and p["timeout_min"] == 120


def test_guide_launcher_config_is_valid(tmp_path):
    """docs/GUIDE.md's launcher config loads as written."""
    import re

    guide = (TESTS.parent / "docs" / "GUIDE.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Running on a cluster\n"):]
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text(re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1))
    o = load_options("slurm", cfg)
    assert o.gpus_per_node == 4 and o.timeout_min == 1440 and o.slurm == {"account": "speech", "qos": "normal"}


@pytest.mark.parametrize("text,cli,match", [
    ("gpus_per_nod: 2\n", {}, "unknown keys gpus_per_nod \\(did you mean gpus_per_node\\?\\)"),
    ("gpus_per_node: two\n", {}, "gpus_per_node"),
    ("", {"time": "soon"}, "time 'soon': not a time limit"),
    ("", {"nodes": 2}, "nodes=2 — one node per job"),
    ("launcher: ray\n", {}, "names another launcher"),
    ("- a list\n", {}, "top level must be a mapping"),
])
def test_options_errors_say_what_to_change(tmp_path, text, cli, match):
    cfg = tmp_path / "l.yaml"
    cfg.write_text(text)
    with pytest.raises(LauncherError, match=match):
        load_options("slurm", cfg, **cli)


def test_options_refuse_what_the_launcher_cannot_use(tmp_path):
    with pytest.raises(LauncherError, match="slurm options"):
        load_options("submitit-local", partition="gpu")
    with pytest.raises(LauncherError, match="Ray option"):
        load_options("slurm", address="auto")
    with pytest.raises(LauncherError, match="unknown — choose one of local, submitit-local, slurm, ray"):
        load_options("kubernetes")
    with pytest.raises(LauncherError, match="launcher options need --launcher slurm"):
        load_options("local", gpus_per_node=2)
    assert load_options("local", time="1:00:00").launcher == "local"
    with pytest.raises(LauncherError, match="no such launcher config"):
        load_options("slurm", tmp_path / "missing.yaml")


def test_cli_launcher_errors_are_one_line(fx, tmp_path):
    base = ["run", "--codec", "test-rpq", "--task", "tts", "--data-dir", tmp_path]
    for extra, expect in ([["--launcher", "slurm", "--nodes", "2"], "nodes=2"],
                          [["--launcher", "pbs"], "--launcher 'pbs': unknown"],
                          [["--launcher", "submitit-local", "--until", "train"], "--until with --launcher"],
                          [["--launcher", "slurm", "--gpus-per-node", "2"], "pass --device cuda"]):
        r = CliRunner().invoke(app, [str(a) for a in base + extra])
        out = r.output.strip()
        assert r.exit_code == 2 and out.startswith("error: ") and "\n" not in out and expect in out, out
    assert not (tmp_path / "launch").exists()


def test_cli_launch_skips_finished_cells(fx, tmp_path):
    d = tmp_path / "d"
    for c in CODECS2:
        _write(_run_dir("tts", c, d) / "done.json", {"codec_id": codec_identity(CODECS.get(c)())})
    sets = [x for o in TINY for x in ("--set", o)]
    r = CliRunner().invoke(app, ["run", "--codec", ",".join(CODECS2), "--task", "tts", *sets, "--data-dir", str(d),
                                 "--launcher", "submitit-local"])
    assert r.exit_code == 0, r.output
    assert "nothing to submit" in r.output and "tts/test-rpq-b" in r.output and "skipped" in r.output
    rows = json.loads(CliRunner().invoke(app, ["status", "--data-dir", str(d), "--format", "json"]).output)
    assert {x["cell"]: (x["stage"], x["state"]) for x in rows} == {f"tts/{c}": ("done", "skipped") for c in CODECS2}


def test_cli_launch_in_other_processes_reports_a_failed_codec_job(fx, tmp_path):
    """The jobs run in other processes, where a codec registered only in this test is unknown: its codec job
    fails there, its cell is never submitted, the command exits 1 and ``bench status`` shows why."""
    d = tmp_path / "d"
    r = CliRunner().invoke(app, ["run", "--codec", "test-rpq", "--task", "tts", "--data-dir", str(d),
                                 "--results-dir", str(tmp_path / "r"), "--launcher", "submitit-local"])
    assert r.exit_code == 1, r.output
    finals = dict(ln.split() for ln in r.output.splitlines() if not ln.startswith("launch:"))
    assert finals == {"codec:test-rpq": "failed", "tts/test-rpq": "failed"}
    rows = {x["cell"]: x for x in json.loads(CliRunner().invoke(app, ["status", "--data-dir", str(d), "--format",
                                                                      "json"]).output)}
    assert rows["tts/test-rpq"]["error"] == "its codec job codec:test-rpq failed" and rows["tts/test-rpq"]["job"] == "-"
    assert rows["codec:test-rpq"]["error"].startswith("UnknownNameError: unknown codecs 'test-rpq'")
    assert any("UnknownNameError" in ln for ln in rows["codec:test-rpq"]["log_tail"])


def test_cli_start_up_imports_no_scheduler():
    code = ("import sys, bench.cli, bench.launch, bench.launch.state, bench.launch.graph, bench.launch.options; "
            "print(' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert {"submitit", "ray", "torch"}.isdisjoint(out.stdout.split())


# -- submission order, dependencies and outcomes ------------------------------------------------------
class FakeBackend(launcher_mod._Backend):
    """Jobs that report ``plan[key]`` (default done; "silent": end without a word) on their second poll."""

    def __init__(self, plan: dict[str, str]) -> None:
        self.plan, self.log, self.running, self.most = plan, [], 0, 0

    def submit_many(self, jobs, after):
        hs = []
        for j in jobs:
            self.log.append(("submit", j.key, after))
            self.running += 1
            self.most = max(self.most, self.running)
            hs.append({"job": j, "id": str(len(self.log)), "polls": 0})
        return hs

    def done(self, h):
        h["polls"] += 1
        if h["polls"] < 2:
            return False
        j = h["job"]
        if self.plan.get(j.key, "done") != "silent":
            state.update(Path(j.state_file), j.key, state=self.plan.get(j.key, "done"))
        self.log.append(("end", j.key, None))
        self.running -= 1
        return True

    def job_id(self, h):
        return h["id"]


def test_local_queue_waits_for_codec_jobs_and_fails_their_cells(fx, tmp_path, monkeypatch):
    fake = FakeBackend({"codec:test-rpq-b": "failed", "tts/test-rpq": "silent"})
    monkeypatch.setattr(launcher_mod, "_backend", lambda o, folder, gpus: fake)
    out = launcher_mod.launch(["tts", "music"], CODECS2, "smoke", TINY, options=load_options(
        "submitit-local", array_parallelism=2), data_dir=tmp_path / "d", results_dir=tmp_path / "r",
        echo=lambda m: None, poll_s=0)
    assert out == {"codec:test-rpq": "done", "codec:test-rpq-b": "failed", "tts/test-rpq-b": "failed",
                   "music/test-rpq-b": "failed", "tts/test-rpq": "failed", "music/test-rpq": "done"}
    order = [(e, k) for e, k, _ in fake.log]
    for cell in ("tts/test-rpq", "music/test-rpq"):  # a cell is submitted once its codec job is done
        assert order.index(("end", "codec:test-rpq")) < order.index(("submit", cell))
    assert not any(k.endswith("test-rpq-b") and e == "submit" for e, k in order if k != "codec:test-rpq-b")
    assert fake.most <= 2
    jobs = state.read(state.state_path(VARIANT, tmp_path / "d"))["jobs"]
    assert jobs["tts/test-rpq-b"]["error"] == "its codec job codec:test-rpq-b failed"
    assert "ended without reporting" in jobs["tts/test-rpq"]["error"]
    assert jobs["music/test-rpq"]["depends_on"] == "codec:test-rpq" and jobs["music/test-rpq"]["job_id"]


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """``srun`` and ``sbatch`` that only record: each sbatch file is kept as sbatch-<job id>.sh."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_ / "sbatch").write_text(f"""#!/bin/sh
n=$(( $(cat {bin_}/count 2>/dev/null || echo 100) + 1 )); echo $n > {bin_}/count
cp "$1" {bin_}/sbatch-$n.sh
echo "Submitted batch job $n"
""")
    for f in ("srun", "sbatch"):
        (bin_ / f).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_}{os.pathsep}{os.environ['PATH']}")
    return bin_


def test_slurm_gets_arrays_with_afterok_dependencies(fx, tmp_path, fake_slurm):
    d = tmp_path / "d"
    _write(_run_dir("tts", "test-rpq-b", d) / "state.json", {})  # tokens ready: no codec job, no dependency
    opts = load_options("slurm", partition="gpu", gpus_per_node=1, array_parallelism=2, time="1:30:00")
    out = launcher_mod.launch(["tts", "music"], CODECS2, "smoke", TINY, options=opts, device="cuda", data_dir=d,
                              results_dir=tmp_path / "r", echo=lambda m: None)
    assert set(out.values()) == {"pending"} and len(out) == 6  # slurm runs them: the launcher returns
    jobs = state.read(state.state_path(VARIANT, d))["jobs"]
    codec_ids = {k: e["job_id"] for k, e in jobs.items() if k.startswith("codec:")}
    assert codec_ids == {"codec:test-rpq": "101_0", "codec:test-rpq-b": "101_1"}  # one array of codec jobs
    text = {p.name: p.read_text() for p in fake_slurm.glob("sbatch-*.sh")}
    assert "#SBATCH --array=0-1%2" in text["sbatch-101.sh"] and "#SBATCH --partition=gpu" in text["sbatch-101.sh"]
    assert "#SBATCH --gpus-per-node=1" in text["sbatch-101.sh"] and "#SBATCH --time=90" in text["sbatch-101.sh"]
    assert "--dependency" not in text["sbatch-101.sh"] and "#SBATCH --kill-on-invalid-dep=yes" in text["sbatch-101.sh"]
    for key in ("tts/test-rpq", "music/test-rpq", "music/test-rpq-b"):
        job_no = jobs[key]["job_id"].split("_")[0]
        assert f"#SBATCH --dependency=afterok:{codec_ids[jobs[key]['depends_on']]}" in text[f"sbatch-{job_no}.sh"]
    job_no = jobs["tts/test-rpq-b"]["job_id"].split("_")[0]
    assert "--dependency" not in text[f"sbatch-{job_no}.sh"]
    assert all(e["state"] == "pending" and e["log"] for e in jobs.values())


# -- the job itself -----------------------------------------------------------------------------------
def _job(tmp_path, **kw) -> Job:
    base = dict(key="tts/test-rpq", kind="cell", tasks=("tts",), codec="test-rpq", preset="smoke", overrides=(),
                device="cpu", nproc=1, force=True, data_dir=str(tmp_path / "d"), results_dir=str(tmp_path / "r"),
                state_file=str(tmp_path / "matrix.json"), log=str(tmp_path / "logs" / "tts__test-rpq.log"))
    return Job(**{**base, **kw})


@pytest.mark.parametrize("raise_,expect", [(None, "done"), (KeyboardInterrupt("simulated kill"), "failed"),
                                           (SystemExit(-1), "requeued")])
def test_job_reports_its_state_and_log(tmp_path, monkeypatch, raise_, expect):
    import bench.tasks.runner as runner

    def fake_run(task, codec, preset, echo=print, **kw):
        echo("[4/6] train")
        if raise_ is not None:
            raise raise_
        return [{}, {}]

    monkeypatch.setattr(runner, "run", fake_run)
    job = _job(tmp_path)
    if raise_ is None:
        assert job() == 2
    else:
        with pytest.raises(type(raise_)):
            job()
    e = state.read(tmp_path / "matrix.json")["jobs"]["tts/test-rpq"]
    assert e["state"] == expect and e["attempts"] == 1 and e["pid"] == os.getpid() and e["ended"] >= e["started"]
    log = Path(job.log).read_text()
    assert "[4/6] train" in log and (expect != "failed" or "KeyboardInterrupt: simulated kill" in log)
    assert state.stage_of(e | {"log": job.log}) == "train (4/6)"


def test_checkpoint_requeues_the_same_job_without_force(tmp_path):
    job = _job(tmp_path)
    again = job.checkpoint()
    assert again.function == Job(**{**job.__dict__, "force": False}) and again.args == ()


# -- bench status -------------------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.fixture
def matrix(tmp_path):
    """A state file as jobs leave it: a codec job done, a cell running, one failed, one killed, one done."""
    d = tmp_path / "d"
    sf = state.state_path(VARIANT, d)
    logs = sf.parent / "logs"
    logs.mkdir(parents=True)
    (logs / "fail.log").write_text("".join(f"line {i}\n" for i in range(20)) + "KeyboardInterrupt: boom\n")
    run = {k: tmp_path / "runs" / k for k in ("a", "b", "c", "e")}
    for k, stage in (("a", "[4/6] train"), ("b", "[3/6] tokenize"), ("c", "[5/6] generate + decode")):
        run[k].mkdir(parents=True)
        (run[k] / "log.txt").write_text(f"12:00:00 [1/6] data\n12:00:01 {stage}\n")
    _write(run["e"] / "done.json", {"records": 3})
    t, me = time.time(), socket.gethostname()
    base = {"launcher": "submitit-local", "attempts": 1, "host": me}
    _write(sf, {"preset": VARIANT, "launcher": {"name": "submitit-local", "host": me, "pid": os.getpid()}, "jobs": {
        "codec:test-rpq": {**base, "kind": "codec", "state": "done", "job_id": "11", "started": t - 100,
                           "ended": t - 40, "log": str(logs / "codec.log")},
        "tts/test-rpq": {**base, "kind": "cell", "state": "running", "job_id": "12", "started": t - 30,
                         "pid": os.getpid(), "run_dir": str(run["a"]), "log": str(logs / "a.log")},
        "tts/test-rpq-b": {**base, "kind": "cell", "state": "failed", "job_id": "13", "started": t - 30,
                           "ended": t - 20, "run_dir": str(run["b"]), "log": str(logs / "fail.log"),
                           "error": "KeyboardInterrupt: boom"},
        "music/test-rpq": {**base, "kind": "cell", "state": "running", "job_id": "14", "started": t - 10,
                           "pid": _dead_pid(), "run_dir": str(run["c"]), "log": str(logs / "none.log")},
        "music/test-rpq-b": {"kind": "cell", "state": "skipped", "job_id": None, "run_dir": str(run["e"])},
    }})
    return d


def test_status_shows_stage_job_state_wall_and_failed_log_tails(matrix):
    r = CliRunner().invoke(app, ["status", "--data-dir", str(matrix), "--lines", "3"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    row = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]] for ln in lines if ln.count("│") > 5}
    assert row["codec:test-rpq"][:4] == ["-", "11", "done", "1:00"]
    assert row["tts/test-rpq"][:3] == ["train (4/6)", "12", "running"] and row["tts/test-rpq"][3] >= "0:30"
    assert row["tts/test-rpq-b"][:3] == ["tokenize (3/6)", "13", "failed"]
    assert row["music/test-rpq"][:3] == ["generate + decode (5/6)", "14", "killed"]  # died without a word
    assert row["music/test-rpq-b"][:3] == ["done", "-", "skipped"]
    assert list(row)[0] == "codec:test-rpq"  # codec jobs first
    tail = r.output[r.output.index("tts/test-rpq-b failed"):]
    assert "line 18" in tail and "KeyboardInterrupt: boom" in tail and "line 17" not in tail


def test_status_json_for_scripts(matrix):
    r = CliRunner().invoke(app, ["status", "--data-dir", str(matrix), "--format", "json"])
    rows = {x["cell"]: x for x in json.loads(r.output)}
    assert rows["tts/test-rpq-b"]["log_tail"][-1] == "KeyboardInterrupt: boom" and len(rows) == 5
    assert rows["music/test-rpq"]["state"] == "killed" and rows["music/test-rpq"]["log_tail"] == []
    assert rows["codec:test-rpq"]["wall_s"] == 60.0 and "log_tail" not in rows["tts/test-rpq"]
    assert {x["preset"] for x in rows.values()} == {VARIANT}


def test_status_without_a_matrix_is_one_error_line(matrix):
    r = CliRunner().invoke(app, ["status", "--data-dir", str(matrix), "--preset", "paper"])
    assert r.exit_code == 2 and "no launched matrix for preset 'paper'" in r.output and VARIANT in r.output
    r = CliRunner().invoke(app, ["status", "--data-dir", str(matrix), "--preset", "smoke"])  # its variants too
    assert r.exit_code == 0 and f"matrix {VARIANT}" in r.output


# -- slow: separate processes, the same records, a kill resumed ---------------------------------------
def _records(results: Path) -> dict[str, list]:
    from bench.results import load
    from bench.tasks.runner import records_path

    files = {c: records_path(VARIANT, "tts", c, results) for c in [*CODECS2, "reference"]}
    return {c: _strip(load(p)) for c, p in files.items() if p.is_file()}


@pytest.fixture
def local_matrix(tmp_path, monkeypatch):
    """The fixture manifest, jobs that can import this module (their setup), and the matrix run here."""
    from bench.tasks.runner import run

    m = make_manifest(tmp_path / "ds")
    fixtures()
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    for c in CODECS2:  # the cells one after another in this process (the fixture codecs live in this module)
        run("tts", c, "smoke", overrides=TINY, data_dir=tmp_path / "a", results_dir=tmp_path / "ra",
            echo=lambda m: None)
    return m, _records(tmp_path / "ra")


def _launch(opts: LauncherOptions, root: Path, manifest: Path, kill: str | None = None) -> dict[str, str]:
    setup = (functools.partial(fixtures, manifest=str(manifest), kill=kill),)
    return launcher_mod.launch(["tts"], CODECS2, "smoke", TINY, options=opts, data_dir=root / "data",
                               results_dir=root / "results", setup=setup, echo=lambda m: None, poll_s=0.5)


@pytest.mark.slow
def test_submitit_local_matrix_matches_local_and_resumes_a_killed_job(tmp_path, local_matrix):
    manifest, local = local_matrix
    opts = load_options("submitit-local", array_parallelism=2)
    out = _launch(opts, tmp_path / "b", manifest)
    assert out == {"codec:test-rpq": "done", "codec:test-rpq-b": "done", "tts/test-rpq": "done",
                   "tts/test-rpq-b": "done"}
    assert _records(tmp_path / "b" / "results") == local
    jobs = state.read(state.state_path(VARIANT, tmp_path / "b" / "data"))["jobs"]
    assert all(e["pid"] != os.getpid() and e["attempts"] == 1 for e in jobs.values())  # other processes

    root = tmp_path / "c"
    out = _launch(opts, root, manifest, kill="tts/test-rpq")  # killed in its second LM's training
    assert out["tts/test-rpq"] == "failed" and out["tts/test-rpq-b"] == "done"
    sf = state.state_path(VARIANT, root / "data")
    failed = {r["cell"]: r for r in state.rows(sf)}["tts/test-rpq"]
    assert failed["state"] == "failed" and failed["stage"] == "train (4/6)"
    assert any("simulated kill at nar step 5" in ln for ln in failed["log_tail"])
    run_dir = _run_dir("tts", "test-rpq", root / "data")
    kept = [run_dir / "ar.train.json", run_dir / "ar.final.pt", *(root / "data" / "tokens").rglob("index.json"),
            _run_dir("tts", "test-rpq-b", root / "data") / "done.json"]
    before = {p: p.stat().st_mtime_ns for p in kept}
    assert len(before) == 5 and list(run_dir.glob("nar*.pt"))  # the first LM finished, the second checkpointed

    out = _launch(opts, root, manifest)  # resubmit: only the killed cell, no codec job
    assert out == {"tts/test-rpq-b": "skipped", "tts/test-rpq": "done"}
    assert {p: p.stat().st_mtime_ns for p in kept} == before  # no finished stage redone
    assert "[ar] trained already" in (run_dir / "log.txt").read_text()
    assert _records(root / "results") == local
    assert state.read(sf)["jobs"]["tts/test-rpq"]["state"] == "done"


@pytest.mark.slow
def test_ray_matrix_matches_local(tmp_path, local_matrix):
    pytest.importorskip("ray")
    manifest, local = local_matrix
    out = _launch(load_options("ray", array_parallelism=2), tmp_path / "b", manifest)
    assert set(out.values()) == {"done"} and len(out) == 4
    assert _records(tmp_path / "b" / "results") == local


def _slurm_answers() -> bool:
    """A Slurm cluster whose node is up answers ``sinfo`` here (scripts/slurm_local.sh starts a one-node one)."""
    import shutil

    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and any(s in ("idle", "mix", "alloc") for s in out.stdout.split())


@pytest.mark.slow
@pytest.mark.skipif(not _slurm_answers(), reason="no Slurm cluster answers sinfo here (bash scripts/slurm_local.sh "
                    "starts a one-node one)")
def test_real_slurm_matrix_matches_local(tmp_path, local_matrix):
    """The same matrix through a real slurmctld: sbatch arrays with afterok dependencies, jobs in slurm's own
    processes, the records of a local run."""
    manifest, local = local_matrix
    root = tmp_path / "s"
    out = _launch(load_options("slurm", array_parallelism=2, wait=True, time=20), root, manifest)
    assert out == {"codec:test-rpq": "done", "codec:test-rpq-b": "done", "tts/test-rpq": "done",
                   "tts/test-rpq-b": "done"}
    assert _records(root / "results") == local
    jobs = state.read(state.state_path(VARIANT, root / "data"))["jobs"]
    ids = {k: e["job_id"] for k, e in jobs.items()}
    assert all(str(i).split("_")[0].isdigit() for i in ids.values()), ids  # slurm's job ids (array_task)
    assert all(e["pid"] != os.getpid() for e in jobs.values())


@pytest.mark.slow
def test_preempted_job_checkpoints_requeues_and_resumes(tmp_path, local_matrix):
    """submitit's pre-emption signal (what slurm sends before it pre-empts, or at the time limit) in the cell's
    second LM: ``Job.checkpoint`` requeues it, and the requeued job trains only that LM."""
    import signal

    import submitit

    from bench.tasks.runner import run

    manifest, local = local_matrix
    root = tmp_path / "p"
    kw = dict(data_dir=str(root / "data"), results_dir=str(root / "results"))
    run("tts", "test-rpq", "smoke", overrides=TINY, until="tokenize", echo=lambda m: None, **kw)  # the codec job
    ex = submitit.AutoExecutor(folder=root / "submitit", cluster="local")
    ex.update_parameters(timeout_min=30, stderr_to_stdout=True)
    hook = functools.partial(slow_second_lm, manifest=str(manifest), mark=str(root / "slowed"))
    job = _job(root, overrides=tuple(TINY), force=False, setup=(hook,), **kw)
    h = ex.submit(job)
    log, t0 = Path(job.log), time.time()
    while "[ar] done" not in (log.read_text() if log.exists() else "") and time.time() - t0 < 300:
        time.sleep(0.2)
    ar = _run_dir("tts", "test-rpq", root / "data") / "ar.train.json"
    before = ar.stat().st_mtime_ns
    os.kill(state.read(Path(job.state_file))["jobs"][job.key]["pid"], signal.SIGUSR2)
    assert h.result() == 2  # checkpointed, requeued by submitit, resumed, done
    text = log.read_text()
    assert "pre-empted; requeued" in text and "attempt 2" in text and "[ar] trained already" in text
    assert ar.stat().st_mtime_ns == before  # the finished LM was not trained again
    e = state.read(Path(job.state_file))["jobs"][job.key]
    assert e["state"] == "done" and e["attempts"] == 2
    assert _records(root / "results")["test-rpq"] == local["test-rpq"]
