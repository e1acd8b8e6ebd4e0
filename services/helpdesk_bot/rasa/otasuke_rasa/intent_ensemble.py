"""Second opinion on DIET's intent, and no confident answer to words the bot has never seen.

DIET alone is sharp but over-confident: nonsense such as "xyz" or "うーん" came out as
``affirm`` at 0.9. This component runs right after DIETClassifier and before
FallbackClassifier:

1. a multinomial logistic regression on the same sparse features (word and character
   n-grams, L2-normalised) plus character n-grams of the message's katakana reading
   (``reading_ngrams``: kana spellings and IME slips such as ごけんち/誤検地 meet 誤検知)
   gives a calibrated second ranking; the two are averaged (``diet_weight``), so the
   intent is confident only when both agree;
2. a message with no content word from the training vocabulary (only unknown words,
   fillers, numbers, punctuation or single kana) is ranked ``out_of_scope`` with a
   confidence below the fallback threshold, so the bot asks a clarifying question
   instead of answering. A word written in kana that the vocabulary lacks (ホケン, ほけん for
   保険) still counts as known when its reading (3+ kana) occurs in a training line's reading.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Particles and auxiliaries count only when a message has nothing else (ちわっす, っす).
FUNCTION_POS = {"助詞", "助動詞"}


def _is_punctuation(text: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PZ" or ch in "ー〜~" for ch in text)


def content_lemmas(message: Message) -> List[str]:
    """Lemmas that can carry meaning: no punctuation, fillers (えーと, あ), numbers or lone kana.

    Emoji are kept (👍 is an answer); particles and auxiliaries only when nothing else is left.
    """
    return [lemma for lemma, _ in content_words(message)]


def _is_kana(text: str) -> bool:
    return bool(text) and all("\u3041" <= ch <= "\u30fc" for ch in text)


def content_words(message: Message) -> List[tuple]:
    """(lemma, reading) of the content words, as in ``content_lemmas``; reading only for kana words."""
    words, primary = [], []
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        lemma = token.lemma or token.text
        pos = token.get("pos") or ""
        if _is_punctuation(token.text) or lemma == "0" or token.get("pos_detail") == "フィラー":
            continue
        if len(lemma) == 1 and "\u3040" <= lemma <= "\u30ff":
            continue
        reading = str(token.get("reading") or "") if _is_kana(token.text) else ""
        words.append((lemma, reading))
        if pos not in FUNCTION_POS:
            primary.append((lemma, reading))
    return primary or words


def reading_of(message: Message) -> str:
    """The message as Sudachi reads it (katakana), without punctuation; numbers as 0."""
    parts = []
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        if _is_punctuation(token.text):
            continue
        parts.append("0" if token.text.isdigit() else str(token.get("reading") or token.text).lower())
    return "".join(parts)


def _l2(x: scipy.sparse.spmatrix) -> scipy.sparse.csr_matrix:
    x = scipy.sparse.csr_matrix(x, dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return scipy.sparse.diags(1.0 / norms) @ x


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentEnsemble(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "diet_weight": 0.5,
            "C": 10.0,
            "max_iter": 2000,
            "unknown_intent": "out_of_scope",
            # Kept below FallbackClassifier's threshold so unknown words get a question.
            "unknown_confidence": 0.4,
            # Character n-grams (1..n) of the message's reading, for the regression only; 0 = off.
            "reading_ngrams": 0,
            "reading_weight": 1.0,
            # Weight of the dense sentence features (word vectors) against the sparse n-grams.
            "dense_weight": 1.0,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.classes: List[str] = []
        self.coef: Optional[np.ndarray] = None
        self.intercept: Optional[np.ndarray] = None
        self.vocabulary: set = set()
        self.reading_vocabulary: Optional[Dict[str, int]] = None
        # Readings of the training lines, "|"-joined, for kana spellings of known words.
        self.known_readings: str = ""

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext) -> "IntentEnsemble":
        return cls(config, model_storage, resource)

    def _reading_vectorizer(self, vocabulary=None):
        from sklearn.feature_extraction.text import CountVectorizer

        n = int(self.config["reading_ngrams"])
        return CountVectorizer(analyzer="char", ngram_range=(1, n), vocabulary=vocabulary, dtype=np.float64)

    def _features(self, messages: List[Message], fit: bool = False) -> scipy.sparse.csr_matrix:
        x = self._rasa_features(messages)
        if int(self.config["reading_ngrams"]) > 0 and (fit or self.reading_vocabulary is not None):
            readings = [reading_of(m) for m in messages]
            if fit:
                vectorizer = self._reading_vectorizer()
                extra = vectorizer.fit_transform(readings)
                self.reading_vocabulary = {k: int(v) for k, v in vectorizer.vocabulary_.items()}
            else:
                extra = self._reading_vectorizer(self.reading_vocabulary).transform(readings)
            x = scipy.sparse.hstack([x, float(self.config["reading_weight"]) * _l2(extra)]).tocsr()
        return _l2(x)

    def _rasa_features(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        """Sentence features of the pipeline: sparse n-grams and dense word vectors, each
        L2-normalised on its own so ``dense_weight`` sets their balance."""
        sparse_rows, dense_rows = [], []
        for m in messages:
            sparse = m.get_sparse_features(TEXT)[1]
            dense = m.get_dense_features(TEXT)[1]
            if sparse is not None:
                sparse_rows.append(scipy.sparse.csr_matrix(sparse.features))
            if dense is not None:
                dense_rows.append(scipy.sparse.csr_matrix(dense.features))
        parts = []
        if len(sparse_rows) == len(messages):
            parts.append(_l2(scipy.sparse.vstack(sparse_rows)))
        if dense_rows and len(dense_rows) == len(messages):
            parts.append(float(self.config["dense_weight"]) * _l2(scipy.sparse.vstack(dense_rows)))
        return scipy.sparse.hstack(parts).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        for e in examples:
            self.vocabulary.update(content_lemmas(e))
        self.known_readings = "|".join(sorted({reading_of(e) for e in examples}))
        clf = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"], class_weight="balanced")
        clf.fit(self._features(examples, fit=True), [e.get(INTENT) for e in examples])
        self.classes, self.coef, self.intercept = list(clf.classes_), clf.coef_, clf.intercept_
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / "lr.npz", coef=self.coef, intercept=self.intercept)
            (directory / "meta.json").write_text(
                json.dumps(
                    {
                        "classes": self.classes,
                        "vocabulary": sorted(self.vocabulary),
                        "reading_vocabulary": self.reading_vocabulary,
                        "known_readings": self.known_readings,
                    },
                    ensure_ascii=False,
                )
            )
        return self._resource

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs: Any) -> "IntentEnsemble":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / "lr.npz")
                meta = json.loads((directory / "meta.json").read_text())
        except (ValueError, FileNotFoundError):
            logger.warning("IntentEnsemble: no trained state, passing DIET's ranking through")
            return component
        component.coef, component.intercept = arrays["coef"], arrays["intercept"]
        component.classes, component.vocabulary = meta["classes"], set(meta["vocabulary"])
        component.reading_vocabulary = meta.get("reading_vocabulary")
        component.known_readings = meta.get("known_readings", "")
        return component

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def _lr_probabilities(self, messages: List[Message]) -> np.ndarray:
        scores = self._features(messages) @ self.coef.T + self.intercept
        scores = np.asarray(scores)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.coef is None or not messages:
            return messages
        lr = self._lr_probabilities(messages)
        w = float(self.config["diet_weight"])
        for message, probs in zip(messages, lr):
            diet = {r["name"]: float(r["confidence"]) for r in message.get("intent_ranking") or []}
            ranking = {name: w * diet.get(name, 0.0) + (1 - w) * float(p) for name, p in zip(self.classes, probs)}
            if not self._has_known_word(message):
                ranking = self._unknown(ranking)
            ordered = sorted(({"name": n, "confidence": c} for n, c in ranking.items()), key=lambda r: -r["confidence"])
            message.set(INTENT, ordered[0], add_to_output=True)
            message.set("intent_ranking", ordered, add_to_output=True)
        return messages

    def _has_known_word(self, message: Message) -> bool:
        for lemma, reading in content_words(message):
            if lemma in self.vocabulary:
                return True
            if len(reading) >= 3 and reading.lower() in self.known_readings:
                return True
        return False

    def _unknown(self, ranking: Dict[str, float]) -> Dict[str, float]:
        target, confidence = self.config["unknown_intent"], float(self.config["unknown_confidence"])
        others = {n: c for n, c in ranking.items() if n != target}
        top = max(others.values(), default=0.0) or 1.0
        # Keep the others' order (for the clarifying buttons) but well below the unknown intent.
        scaled = {n: c / top * confidence / 2 for n, c in others.items()}
        return {target: confidence, **scaled}
