"""Japanese tokenizer for Rasa on SudachiPy with its core dictionary.

Rasa's WhitespaceTokenizer refuses ``language: ja`` (Japanese has no spaces).
Tokens keep their surface text; the lemma is Sudachi's normalised form, so
spelling variants (できる/出来る, ＵＴＭ/utm, 見なおし/見直し) share features in
CountVectorsFeaturizer (which featurises lemmas by default).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SudachiTokenizer(Tokenizer):
    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return ["ja"]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sudachipy", "sudachidict_core"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # A = shortest units: more shared sub-words between short chat messages.
            "split_mode": "A",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        from sudachipy import dictionary, tokenizer

        mode = getattr(tokenizer.Tokenizer.SplitMode, str(config.get("split_mode", "A")).upper())
        self._tokenizer = dictionary.Dictionary().create(mode)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SudachiTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        tokens: List[Token] = []
        for m in self._tokenizer.tokenize(text):
            surface = m.surface()
            if not surface.strip():
                continue
            lemma = m.normalized_form().lower()
            if surface.isdigit():
                lemma = "0"  # numbers differ, their role does not
            # The part of speech lets IntentEnsemble tell content words from particles and punctuation;
            # the reading (katakana) lets it match kana spellings and IME slips (ごけんち, 誤検地 ~ 誤検知).
            data = {"pos": m.part_of_speech()[0], "pos_detail": m.part_of_speech()[1], "reading": m.reading_form()}
            tokens.append(Token(surface, m.begin(), m.end(), data=data, lemma=lemma))
        return self._apply_token_pattern(tokens)
