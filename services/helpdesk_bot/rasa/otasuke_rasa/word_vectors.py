"""Pretrained Japanese word vectors as dense features, so words the training data never used
still land near the words it did (派遣 near 来る, 上司 near 担当).

The vectors are GiNZA's (PyPI package ``ja-ginza``: 300-dimensional word2vec vectors of
Sudachi normalised forms, 480k words sharing 20k rows). Only the vector files of that package
are read, never spaCy: setup.sh installs it without its dependencies. spaCy stores them keyed
by a 64-bit MurmurHash of each string; the first load turns them into a plain word index cached
beside the environment (``<venv>/share/otasuke/word_vectors.npz``), which later loads in well
under a second.

Per token: the vector of its lemma (our tokenizer's lemma is Sudachi's normalised form, as in
GiNZA), else of its surface, else zeros; zeros too for a katakana spelling that Sudachi read as a
kanji word (a guess in all-kana messages). Sentence feature: the mean over content words
(particles, auxiliaries and symbols only when nothing else has a vector).
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

FUNCTION_POS = {"助詞", "助動詞", "補助記号", "空白"}
_M, _R, _MASK = 0xC6A4A7935BD1E995, 47, (1 << 64) - 1


def _is_katakana(text: str) -> bool:
    return bool(text) and all("\u30a1" <= ch <= "\u30fc" for ch in text)


def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, the hash spaCy keys its strings with (seed 1)."""
    h = (seed ^ (len(data) * _M)) & _MASK
    blocks = len(data) // 8
    for (k,) in struct.iter_unpack("<Q", data[: blocks * 8]):
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h = ((h ^ k) * _M) & _MASK
    tail = data[blocks * 8 :]
    if tail:
        for i, b in enumerate(tail):
            h ^= b << (8 * i)
        h = (h * _M) & _MASK
    h ^= h >> _R
    h = (h * _M) & _MASK
    return h ^ (h >> _R)


def _package_vocab(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # locates without importing (which would need spaCy)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"word vectors: package {package!r} is not installed (setup.sh installs it)")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*/vocab/vectors"))
    if not found:
        raise RuntimeError(f"word vectors: no vocab/vectors in package {package!r}")
    return found[-1].parent


def build_index(package: str) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(words, row of each word, vectors) from a spaCy model package's vocab files."""
    import msgpack

    vocab = _package_vocab(package)
    strings = json.loads((vocab / "strings.json").read_text(encoding="utf-8"))
    key2row = msgpack.unpackb((vocab / "key2row").read_bytes(), strict_map_key=False)
    vectors = np.load(vocab / "vectors", allow_pickle=False)
    words, rows = [], []
    for s in strings:
        row = key2row.get(murmurhash64a(s.encode("utf-8")))
        if row is not None and "\n" not in s:
            words.append(s)
            rows.append(row)
    return words, np.asarray(rows, dtype=np.int32), vectors.astype(np.float32)


def cache_path(package: str) -> Path:
    return Path(sys.prefix) / "share" / "otasuke" / f"{package}_word_vectors.npz"


_LOADED: Dict[str, Tuple[Dict[str, int], np.ndarray]] = {}


def load_vectors(package: str) -> Tuple[Dict[str, int], np.ndarray]:
    """word -> row, and the vector table; built once, then read from the cache."""
    if package in _LOADED:
        return _LOADED[package]
    path = cache_path(package)
    if not path.exists():
        logger.info("word vectors: indexing %s (first use)", package)
        words, rows, vectors = build_index(package)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # two first trainings may race
        np.savez(tmp, words=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8), rows=rows, vectors=vectors)
        tmp.replace(path)
    with np.load(path) as data:
        words = data["words"].tobytes().decode("utf-8").split("\n")
        index = dict(zip(words, data["rows"].tolist()))
        vectors = data["vectors"]
    _LOADED[package] = (index, vectors)
    return index, vectors


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class WordVectorFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "package": "ja_ginza"}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["msgpack"]

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.index, self.vectors = load_vectors(self._config["package"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "WordVectorFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def _row(self, token) -> Optional[int]:
        if _is_katakana(token.text) and not _is_katakana(token.lemma or ""):
            # A katakana spelling read as a kanji word is Sudachi guessing (ｶﾝｾﾝｼﾀ ｶﾓ → 関する, 鴨):
            # its vector would point somewhere else entirely; the n-grams and reading still count.
            return None
        for key in (token.lemma, token.text, (token.lemma or "").upper(), (token.lemma or "").capitalize()):
            if key and key in self.index:
                return self.index[key]
        return None

    def _features(self, message: Message) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not tokens:
            return None
        dim = self.vectors.shape[1]
        sequence = np.zeros((len(tokens), dim), dtype=np.float32)
        content, function = [], []
        for i, token in enumerate(tokens):
            row = self._row(token)
            if row is None:
                continue
            sequence[i] = self.vectors[row]
            (function if token.get("pos") in FUNCTION_POS else content).append(i)
        chosen = content or function
        sentence = sequence[chosen].mean(axis=0, keepdims=True) if chosen else np.zeros((1, dim), dtype=np.float32)
        return sequence, sentence

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            features = self._features(message)
            if features is not None:
                self.add_features_to_message(*features, TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
