"""Cross-fitted entities: what an NER predicts for training docs it did not train on.

A relation component trained on gold entities never sees the NER's mistakes: a span one token
short, a PER tagged ORG, a spurious entity. At inference it gets them all. `cross_predict`
splits the training docs into folds, trains the NER config on all folds but one and predicts the
held-out one, so every training doc gets the entities of a model that did not see it, as the
dev and test docs do. It stores them beside the gold annotation, in
doc.spans[PREDICTED_KEY] (with their confidences, see the confidences module), and
`spacy-window-ner.PredictedEntsCorpus.v1` reads them back to train the relation component on
gold and predicted entities together.
"""
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy
import spacy
from spacy.cli.train import train as train_pipeline
from spacy.language import Language
from spacy.util import load_config
from thinc.api import ConfigValidationError
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .alignment import aligned_ents
from .confidences import get_confidences, set_confidences
from .corpus import PREDICTED_KEY
from .files import check_not_input
from .readers import read_docbin, write_docbin


class FoldScores(NamedTuple):
    """How one fold's model did on its held-out docs (strict, labelled spans).

    fold (int): The fold, from 0.
    n_docs (int): Its held-out docs.
    n_gold (int): Their gold entities.
    n_predicted (int): The entities predicted for them.
    n_correct (int): The predicted entities with a gold entity's offsets and label.
    """

    fold: int
    n_docs: int
    n_gold: int
    n_predicted: int
    n_correct: int

    @property
    def p(self) -> float:
        return self.n_correct / self.n_predicted if self.n_predicted else 0.0

    @property
    def r(self) -> float:
        return self.n_correct / self.n_gold if self.n_gold else 0.0

    @property
    def f(self) -> float:
        return 2 * self.p * self.r / (self.p + self.r) if self.p + self.r else 0.0


def split_folds(n_docs: int, n_folds: int, seed: int = 0) -> List[numpy.ndarray]:
    """Split doc indices into folds of (nearly) equal size, shuffled with the seed.

    n_docs (int): The number of docs.
    n_folds (int): The number of folds, at least 2 and at most n_docs.
    seed (int): The shuffling seed.
    RETURNS (List[numpy.ndarray]): The sorted doc indices of each fold.
    """
    if not 2 <= n_folds <= n_docs:
        raise ValueError(f"Can't split {n_docs} docs into {n_folds} folds: use 2 to {max(n_docs, 2)} folds.")
    order = numpy.random.default_rng(seed).permutation(n_docs)
    return [numpy.sort(order[k::n_folds]) for k in range(n_folds)]


def cross_predict(
    config_path: Union[str, Path],
    train_path: Union[str, Path],
    dev_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    n_folds: int = 2,
    key: str = PREDICTED_KEY,
    overrides: Optional[Dict[str, Any]] = None,
    models_dir: Optional[Union[str, Path]] = None,
    use_gpu: int = -1,
    seed: int = 0,
    on_fold: Optional[Callable[[FoldScores], None]] = None,
) -> List[FoldScores]:
    """Train an NER config on all folds of the training docs but one, predict the entities of
    the held-out fold, for every fold, and save the training docs with those entities in
    doc.spans[key] and their confidences (gold entities, relations and user data unchanged).

    config_path (Union[str, Path]): The NER training config (spacy train's).
    train_path (Union[str, Path]): The training .spacy file.
    dev_path (Union[str, Path]): The dev .spacy file each fold's training selects on.
    output_path (Union[str, Path]): The .spacy file to write, atomically.
    n_folds (int): The number of folds: each model trains on (n_folds - 1) / n_folds of the docs.
    key (str): The span group to write the predicted entities to.
    overrides (Optional[Dict[str, Any]]): Config overrides for every fold's training, as spacy
        train takes them (paths.train and paths.dev are set here).
    models_dir (Optional[Union[str, Path]]): Keep each fold's model in models_dir/fold_K;
        by default they go to a temporary directory and are deleted.
    use_gpu (int): The GPU id for training, or -1 for the CPU.
    seed (int): The seed that assigns docs to folds.
    on_fold (Optional[Callable[[FoldScores], None]]): Called with each fold's scores as it ends.
    RETURNS (List[FoldScores]): Each fold's model, scored on its held-out docs.
    RAISES (ValueError): When a path it writes (the output, a fold's directory under
        models_dir) is, holds or lies inside one it reads, before anything is written.
    """
    inputs = [config_path, train_path, dev_path]
    written = [output_path] + ([Path(models_dir) / f"fold_{k}" for k in range(n_folds)] if models_dir is not None else [])
    for path in written:
        check_not_input(path, inputs)
    check_config(Path(config_path), overrides)
    docs = read_docbin(Path(train_path), Vocab())
    folds = split_folds(len(docs), n_folds, seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="swn-crossfit-") as tmp:
        root = Path(models_dir) if models_dir is not None else Path(tmp)
        for k, held_out in enumerate(folds):
            fold_dir = root / f"fold_{k}"
            fold_train = fold_dir / "train.spacy"
            kept = numpy.setdiff1d(numpy.arange(len(docs)), held_out)
            write_docbin([docs[i] for i in kept], fold_train)
            fold_overrides = {**(overrides or {}), "paths.train": str(fold_train), "paths.dev": str(dev_path)}
            train_pipeline(Path(config_path), fold_dir, use_gpu=use_gpu, overrides=fold_overrides)
            nlp = spacy.load(fold_dir / "model-best")
            scores = predict_into(nlp, [docs[i] for i in held_out], key, fold=k)
            results.append(scores)
            if on_fold is not None:
                on_fold(scores)
    write_docbin(docs, Path(output_path))
    return results


def check_config(path: Path, overrides: Optional[Dict[str, Any]] = None) -> None:
    """Read a training config as spacy train will, before anything is trained or written.

    path (Path): The config.
    overrides (Optional[Dict[str, Any]]): Its overrides.
    RAISES (ValueError): When it can't be read, naming the file and why.
    """
    try:
        load_config(path, overrides=overrides or {})
    except UnicodeDecodeError as err:
        raise ValueError(f"Can't read the config {path}: it is not UTF-8 text ({err.reason} at byte {err.start}).") from None
    except (ConfigValidationError, ValueError, OSError) as err:
        raise ValueError(f"Can't read the config {path}: {' '.join(str(err).split())}") from None


def predict_into(nlp: Language, docs: Sequence[Doc], key: str, *, fold: int = 0) -> FoldScores:
    """Predict the entities of docs with a pipeline and store them, with their confidences, in
    each doc's doc.spans[key] (matched by character offsets; a predicted entity that doesn't
    fall on the doc's token boundaries is left out).

    nlp (Language): The pipeline that predicts entities (doc.ents).
    docs (Sequence[Doc]): The docs, with gold entities, annotated in place.
    key (str): The span group to write.
    fold (int): The fold, for the scores.
    RETURNS (FoldScores): The predicted entities scored against the docs' gold ones.
    """
    n_gold = n_predicted = n_correct = 0
    for doc, predicted in zip(docs, nlp.pipe(doc.text for doc in docs)):
        confidences = get_confidences(predicted)
        spans = aligned_ents(predicted, doc)
        doc.spans[key] = spans
        scored = [span for span in spans if (span.start_char, span.end_char, span.label_) in confidences]
        set_confidences(doc, scored, [confidences[span.start_char, span.end_char, span.label_] for span in scored])
        gold = {(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents}
        n_gold += len(gold)
        n_predicted += len(predicted.ents)
        n_correct += len(gold & {(ent.start_char, ent.end_char, ent.label_) for ent in predicted.ents})
    return FoldScores(fold, len(docs), n_gold, n_predicted, n_correct)
