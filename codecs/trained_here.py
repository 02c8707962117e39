"""What every codec trained by ``bench train-codec`` shares on the plugin side: finding its checkpoint
(``<data>/codecs/<name>/<preset>-<config hash>/ckpt.pt``), its resolved config, and its weights status.

X-Codec (``codecs/xcodec/plugin.py``) and the trained-here EnCodec/DAC/SpeechTokenizer (``codecs/peer_here.py``)
mix this in; each says how to resolve a preset (``config_dict``), which dataclass holds it (``config_class``)
and which semantic teacher a checkpoint learned from (``teacher_name``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.codecs.base import WeightsStatus


class TrainedHere:
    name: str
    preset: str | None
    data_dir: Any
    weights_path: Path | None

    # what a codec family says ----------------------------------------------------------------
    @classmethod
    def config_dict(cls, preset: str, overrides=()) -> dict[str, Any]:
        """The resolved config of ``preset`` (with ``overrides``) as a plain dict: what the run hash covers."""
        raise NotImplementedError

    @classmethod
    def config_class(cls) -> type:
        """The dataclass the resolved config loads into."""
        raise NotImplementedError

    def teacher_name(self) -> str | None:
        """The semantic teacher this codec's checkpoint learned from (None: none)."""
        return None

    # shared ------------------------------------------------------------------------------------
    def _init_checkpoint(self) -> None:
        """Call from ``__init__`` after ``Codec.__init__``: find the checkpoint, fix the preset it names."""
        self._ckpt_path = self.weights_path or self._find_checkpoint(self.preset)
        if self.preset is None:
            self.preset = self._ckpt_path.parent.name.rsplit("-", 1)[0] if self._ckpt_path else "smoke"
        self._cfg: Any = None

    def _runs_dir(self) -> Path:
        from bench.paths import codec_runs

        return codec_runs(self.name, self.data_dir)

    def _run_name(self, preset: str) -> str | None:
        """The run folder of ``preset``'s current config (what ``bench train-codec NAME --preset P`` writes);
        None when there is no such preset file."""
        from bench.train.config import run_hash

        try:
            return f"{preset}-{run_hash(self.config_dict(preset))}"
        except FileNotFoundError:
            return None

    def own_run(self) -> str | None:
        """This preset's own run folder, which a task run must use (None: weights given, or no preset file).

        The checkpoint found may be another (the newest run of the preset, e.g. one trained with ``--set``
        overrides): fine for a listing, never for a run whose records name the preset."""
        if self.weights_path is not None or self.preset is None:
            return None
        return self._run_name(self.preset)

    def _find_checkpoint(self, preset: str | None) -> Path | None:
        """The current config's run if trained, else the newest trained run of ``preset`` (any preset if None)."""
        root = self._runs_dir()
        if preset is not None:
            own = self._run_name(preset)
            if own is not None and (root / own / "ckpt.pt").is_file():
                return root / own / "ckpt.pt"
        pattern = f"{preset}-*/ckpt.pt" if preset else "*/ckpt.pt"
        found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
        return found[-1] if found else None

    @property
    def cfg(self) -> Any:
        """The trained run's ``config.yaml`` when there is one, else the preset's current config."""
        if self._cfg is None:
            from bench.config import from_dict, load_yaml

            run_cfg = self._ckpt_path.parent / "config.yaml" if self._ckpt_path else None
            if run_cfg is not None and run_cfg.is_file():
                source = load_yaml(run_cfg)
            else:
                source = self.config_dict(self.preset or "smoke")  # _init_checkpoint has set a preset
            self._cfg = from_dict(self.config_class(), source)
        return self._cfg

    def fetch_command(self) -> str:
        """Weights trained here come from the trainer (a finished run is a no-op)."""
        return f"bench train-codec {self.name} --preset {self.preset}"

    def weights(self) -> WeightsStatus:
        teacher = self.teacher_name()
        if self._ckpt_path is not None and self._ckpt_path.is_file():
            return WeightsStatus("trained-here", self._ckpt_path.parent.name, True, str(self._ckpt_path), teacher)
        from bench.config import to_dict
        from bench.train.config import run_hash

        return WeightsStatus("trained-here", f"config {run_hash(to_dict(self.cfg))}", False,
                             f"not trained yet: bench train-codec {self.name} --preset {self.preset}", teacher)
