import dataclasses
from dataclasses import dataclass, field

import pytest

from bench.config import ConfigError, config_hash, from_dict, load_preset, parse_overrides


@dataclass(frozen=True)
class Opt:
    lr: float = 1e-3
    betas: tuple[float, ...] = (0.9, 0.99)


@dataclass(frozen=True)
class Cfg:
    name: str = "x"
    steps: int = 10
    opt: Opt = field(default_factory=Opt)
    teacher: str | None = None


def test_hash_is_order_independent_and_value_sensitive():
    a = {"b": 1, "a": {"y": 2, "x": 3}}
    b = {"a": {"x": 3, "y": 2}, "b": 1}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({"b": 2, "a": {"y": 2, "x": 3}})
    assert config_hash(Cfg()) == config_hash(from_dict(Cfg, {"opt": {"betas": [0.9, 0.99]}}))
    assert config_hash(Cfg()) != config_hash(Cfg(steps=11))


def test_from_dict_nested_and_coercion():
    c = from_dict(Cfg, {"steps": 5, "opt": {"lr": 1, "betas": [0.8, 0.9]}, "teacher": "whisper"})
    assert c.opt.lr == 1.0 and isinstance(c.opt.lr, float)
    assert c.opt.betas == (0.8, 0.9)
    assert c.teacher == "whisper"
    with pytest.raises(ConfigError, match="unknown keys.*'stepz'"):
        from_dict(Cfg, {"stepz": 5})
    with pytest.raises(ConfigError, match="expected int"):
        from_dict(Cfg, {"steps": "many"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.steps = 3  # type: ignore[misc]


def test_overrides_and_preset_file(tmp_path):
    assert parse_overrides(["opt.lr=0.1", "name=abc", "teacher=null"]) == {
        "opt": {"lr": 0.1}, "name": "abc", "teacher": None}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])
    p = tmp_path / "p.yaml"
    p.write_text("steps: 7\nopt:\n  lr: 0.5\n")
    c = load_preset(Cfg, p, ["opt.lr=0.25"])
    assert c.steps == 7 and c.opt.lr == 0.25 and c.opt.betas == (0.9, 0.99)
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_preset(Cfg, bad)
