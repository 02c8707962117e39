import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.registry import Registry, UnknownNameError

ROOT = Path(__file__).resolve().parent.parent


class Dummy:
    pass


def test_register_lazy_and_decorator():
    reg: Registry = Registry("things", group="bench.test-none")
    reg.register("lazy", "collections:OrderedDict")

    @reg.register("deco")
    class Deco:
        pass

    import collections

    assert reg.names() == ["deco", "lazy"]
    assert reg.get("lazy") is collections.OrderedDict
    assert reg.get("deco") is Deco
    with pytest.raises(ValueError, match="already registered"):
        reg.register("deco", Dummy)


def test_unknown_name_suggests_close_match():
    reg: Registry = Registry("codecs", group="bench.test-none")
    reg.register("xcodec", Dummy)
    reg.register("encodec-24khz", Dummy)
    with pytest.raises(UnknownNameError) as e:
        reg.get("xcodek")
    msg = str(e.value)
    assert "Did you mean 'xcodec'?" in msg and "encodec-24khz" in msg


def test_registry_refuses_a_class_outside_its_protocol():
    class Proto:
        pass

    class Good(Proto):
        pass

    reg: Registry = Registry("things", group="bench.test-none", protocol=Proto)
    reg.register("good", Good)
    with pytest.raises(TypeError, match="Dummy does not subclass .*Proto"):
        reg.register("bad", Dummy)
    reg.register("lazy-bad", "collections:OrderedDict")  # lazy entries are checked when first imported
    with pytest.raises(TypeError, match="OrderedDict does not subclass"):
        reg.get("lazy-bad")
    assert reg.get("good") is Good


def test_builtin_registries_hold_their_protocols():
    from bench.codecs import CODECS, Codec
    from bench.metrics import METRICS, MetricBackend
    from bench.tasks import TASKS, Task

    assert (CODECS.protocol, TASKS.protocol, METRICS.protocol) == (Codec, Task, MetricBackend)
    assert issubclass(TASKS.get("tts"), Task)


def test_builtin_tables_point_at_real_registries():
    """Each plugin package registers its own built-ins on import: no other module has to be imported first."""
    from bench.codecs import BUILTIN as BUILTIN_CODECS
    from bench.codecs import CODECS
    from bench.metrics import BUILTIN as BUILTIN_METRICS
    from bench.metrics import METRICS
    from bench.tasks import BUILTIN as BUILTIN_TASKS
    from bench.tasks import TASKS

    assert set(BUILTIN_CODECS) <= set(CODECS.names())
    assert set(BUILTIN_TASKS) <= set(TASKS.names())
    assert set(BUILTIN_METRICS) <= set(METRICS.names())
    assert {"xcodec", "xcodec-acoustic", "encodec-24khz", "dac-16khz", "speechtokenizer"} <= set(CODECS.names())


def test_entry_point_plugin_is_listed(tmp_path):
    """Install a tiny third-party package declaring a `bench.codecs` entry point; `bench codecs` lists it."""
    pkg = tmp_path / "pkg"
    (pkg / "tinyplug").mkdir(parents=True)
    (pkg / "tinyplug" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from bench.codecs.base import Codec, WeightsStatus

            class TinyCodec(Codec):
                name = "tiny-plugin"
                sample_rate = 8000
                frame_rate = 10.0
                n_codebooks = 2
                codebook_size = 16

                def weights(self):
                    return WeightsStatus("published", "none", True)

                def encode(self, wav, n_q=None):
                    raise NotImplementedError

                def decode(self, codes):
                    raise NotImplementedError
            """
        )
    )
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "tinyplug"
            version = "0.0.1"
            [project.entry-points."bench.codecs"]
            tiny-plugin = "tinyplug:TinyCodec"
            """
        )
    )
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(pkg)],
        check=True,
        capture_output=True,
    )
    code = "from bench.codecs import CODECS; " \
           "print(CODECS.names()); print(CODECS.get('tiny-plugin')().bitrate())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "tiny-plugin" in out.stdout
    assert "80.0" in out.stdout  # 2 codebooks x 4 bits x 10 Hz
