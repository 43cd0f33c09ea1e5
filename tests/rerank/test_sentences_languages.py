"""Sentence splitting in other languages and scripts (sentencex behind ``language=``): hand-made texts with their
splits written by hand, the English rule kept for None/"en", and the substring property for every language."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rerank.sentences as sentences_module
from rerank.errors import MissingDependencyError
from rerank.records import Document
from rerank.segmenter import document_sentences, segment_document
from rerank.sentences import check_language, split_sentences
from tests.rerank.test_sentences import EXAMPLES

sentencex = pytest.importorskip("sentencex", reason="pip install sentencex for the multilingual splitter")

SCRIPTS = [
    # CJK: sentence marks without a following space.
    ("zh", "我喜欢猫。你呢？太好了！我们走吧", ["我喜欢猫。", "你呢？", "太好了！", "我们走吧"]),
    ("zh", "价格是3.5元。很便宜！", ["价格是3.5元。", "很便宜！"]),
    ("zh", "他说：“你好。”然后走了。", ["他说：“你好。”", "然后走了。"]),
    ("ja", "今日は晴れです。明日は雨でしょう！本当？", ["今日は晴れです。", "明日は雨でしょう！", "本当？"]),
    ("ko", "안녕하세요. 반갑습니다! 이름이 뭐예요?", ["안녕하세요.", "반갑습니다!", "이름이 뭐예요?"]),
    # Devanagari: danda and double danda.
    ("hi", "मैं घर जा रहा हूँ। तुम कहाँ हो? ठीक है।", ["मैं घर जा रहा हूँ।", "तुम कहाँ हो?", "ठीक है।"]),
    ("hi", "राम ने कहा। सीता आई॥ फिर क्या हुआ?", ["राम ने कहा।", "सीता आई॥", "फिर क्या हुआ?"]),
    # Arabic script: Arabic question mark, Urdu full stop.
    ("ar", "كيف حالك؟ أنا بخير. شكرا!", ["كيف حالك؟", "أنا بخير.", "شكرا!"]),
    ("fa", "حال شما چطور است؟ من خوبم.", ["حال شما چطور است؟", "من خوبم."]),
    ("ur", "یہ ایک کتاب ہے۔ کیا آپ ٹھیک ہیں؟", ["یہ ایک کتاب ہے۔", "کیا آپ ٹھیک ہیں؟"]),
    # Hebrew.
    ("he", "שלום. מה שלומך?", ["שלום.", "מה שלומך?"]),
    # Cyrillic and Greek, with an abbreviation and the Greek question mark (;).
    ("ru", "Я живу в г. Москве. Он спит! Да?", ["Я живу в г. Москве.", "Он спит!", "Да?"]),
    ("bg", "Това е котка. Тя спи.", ["Това е котка.", "Тя спи."]),
    ("el", "Είναι γάτα. Τι κάνεις; Καλά.", ["Είναι γάτα.", "Τι κάνεις;", "Καλά."]),
    # Latin script with the language's abbreviations and ordinals.
    ("de", "Das ist z. B. gut. Am 3. Oktober kam er. Dann ging er.",
     ["Das ist z. B. gut.", "Am 3. Oktober kam er.", "Dann ging er."]),
    # Thai marks sentences with a space, which sentencex does not read as a boundary: only blank lines split.
    ("th", "ฉันชอบแมว แมวน่ารักมาก\n\nบรรทัดใหม่", ["ฉันชอบแมว แมวน่ารักมาก", "บรรทัดใหม่"]),
]  # fmt: skip


@pytest.mark.parametrize(("language", "text", "expected"), SCRIPTS)
def test_scripts(language, text, expected):
    assert split_sentences(text, language=language) == expected


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
@pytest.mark.parametrize("language", [None, "en", "en-gb"])
def test_english_keeps_the_english_rule(text, expected, language):
    assert split_sentences(text, language=language) == expected


def test_english_and_sentencex_differ_where_the_english_rule_is_pinned():
    text = "Dr. Who agreed. Fine."
    assert split_sentences(text) == ["Dr. Who agreed.", "Fine."]
    assert split_sentences(text, language="en") == ["Dr. Who agreed.", "Fine."]
    assert split_sentences("我喜欢猫。你呢？") == ["我喜欢猫。你呢？"]  # the English rule wants a space after the mark


def test_blank_text_and_blank_lines():
    for language in ("zh", "de"):
        assert split_sentences("", language=language) == []
        assert split_sentences(" \n\n\t ", language=language) == []
    assert split_sentences("  Erster Absatz\n\n\n  zweiter Absatz  ", language="de") == ["Erster Absatz",
                                                                                         "zweiter Absatz"]  # fmt: skip


@pytest.mark.parametrize("bad", ["Klingon", "EN", "", "zh_CN", "e", "fr-"])
def test_bad_language_codes_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        split_sentences("Text.", language=bad)
    with pytest.raises(ValueError, match=repr(bad)):
        check_language(bad)


def test_language_of_the_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="int"):
        split_sentences("Text.", language=3)  # type: ignore[arg-type]


def test_check_language_says_which_splitter():
    assert check_language(None) is None and check_language("en") is None and check_language("en-us") is None
    assert check_language("zh") == "zh" and check_language("pt-br") == "pt-br"


def test_missing_sentencex_names_the_package(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sentencex", None)  # import sentencex now raises ImportError
    with pytest.raises(MissingDependencyError, match="pip install sentencex"):
        split_sentences("Text.", language="de")
    assert split_sentences("Text. More.") == ["Text.", "More."]  # English needs nothing


LANGUAGES = ["zh", "ja", "hi", "ar", "ur", "ru", "el", "de", "th", "fr", "xx"]
CHARS = [*"ab AB 1.!?。！？।॥؟۔;\n\t\u3000\u00a0'\"()[]«»“”@猫好िहكяЯΩ😀", "Dr.", "z. B."]
scripted = st.lists(st.sampled_from(CHARS), max_size=80).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(LANGUAGES), scripted | st.text(max_size=120))
def test_sentences_are_stripped_ordered_substrings_covering_the_text(language, text):
    sentences = split_sentences(text, language=language)
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        found = text.find(sentence, position)
        assert found >= 0
        assert text[position:found].strip() == ""
        position = found + len(sentence)
    assert text[position:].strip() == ""


# Long texts are read in windows; without quotes, brackets or e-mail addresses (whose ranges sentencex reads
# across a whole paragraph) the windows give what one call on the whole text gives.
PLAIN = [*"猫好。！？।.!? ", "Ab", "cd", "Xy", "我们", "हि", "12", " ", "  ", "\n", "\n\n"]


def _whole_text(text: str, language: str) -> list[str]:
    return [piece.strip() for piece in sentencex.segment(language, text) if piece.strip()]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["zh", "de", "hi"]), st.lists(st.sampled_from(PLAIN), max_size=200).map("".join))
def test_windows_agree_with_one_call_on_the_whole_text(language, text):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sentences_module, "_WINDOW", 48)
        patch.setattr(sentences_module, "_MARGIN", 32)
        assert split_sentences(text, language=language) == _whole_text(text, language)


def test_a_long_cjk_text_is_split_like_the_whole_text():
    text = "".join(f"第{i}句话很短。" if i % 7 else f"第{i}句呢？" for i in range(4000))  # ~28,000 characters
    sentences = split_sentences(text, language="zh")
    assert len(sentences) == 4000 and sentences[:2] == ["第0句呢？", "第1句话很短。"]
    assert sentences == _whole_text(text, "zh")


def test_a_long_text_without_boundaries_is_one_sentence():
    text = "字" * 20_000 + "。"
    assert split_sentences(text, language="zh") == [text]


def test_segmenter_passes_the_language_to_the_splitter():
    document = Document(id="d", text="我喜欢猫。你呢？好的。", title="标题")
    assert document_sentences(document) == ["我喜欢猫。你呢？好的。"]  # default: the English rule
    assert document_sentences(document, language="zh") == ["我喜欢猫。", "你呢？", "好的。"]
    segments = segment_document(document, "sentence", language="zh")
    assert [segment.text for segment in segments] == ["我喜欢猫。", "你呢？", "好的。"]
    assert [segment.span for segment in segments] == [(0, 5), (5, 8), (8, 11)]
    assert [segment.text for segment in segment_document(document, "sentence")] == ["我喜欢猫。你呢？好的。"]
    windows = segment_document(document, "window", language="zh", window_tokens=8, token_offsets=_characters)
    assert [window.text for window in windows] == ["我喜欢猫。你呢？", "你呢？好的。"]


def test_a_given_split_wins_over_the_language():
    document = Document(id="d", text="我喜欢猫。你呢？", metadata={"sentences": ["我喜欢猫。你呢？"]})
    assert document_sentences(document, language="zh") == ["我喜欢猫。你呢？"]


def _characters(text: str) -> list[tuple[int, int]]:
    return [(i, i + 1) for i, char in enumerate(text) if not char.isspace()]
