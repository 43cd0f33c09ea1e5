"""BM25 tokenisation in other languages: per language, on small hand-made corpora, a query finds the right document,
stopwords are removed and stemming merges inflections; CJK and Thai become character bigrams; the language is saved
with the index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrievers import BM25Retriever, IndexFormatError, Tokenizer, load_retriever
from retrievers.bm25 import TokenizerSettings
from retrievers.tokenize import BIGRAM_LANGUAGES, SNOWBALL_LANGUAGES, languages

pytest.importorskip("stopwordsiso", reason="pip install stopwordsiso for stopword lists in other languages")
pytest.importorskip("regex", reason="pip install regex for word matching in other languages")

DATA = Path(__file__).parent / "data"

# language: (documents, query, index of the document it must find first, stopwords, inflected forms of one word)
CORPORA = {
    "fr": (["Les chats mangent des souris dans le jardin.", "Le chien dort dans la maison.",
            "La voiture rouge roule très vite."],
           "un chat qui mange", 0, "le la les des dans et", ["chat", "chats"]),
    "de": (["Die Häuser stehen am Fluss.", "Der Hund schläft im Garten.", "Das Auto fährt schnell."],
           "ein Haus am Fluss", 0, "der die das und im am", ["Haus", "Häuser", "Hauses"]),
    "es": (["Los gatos comen pescado.", "El perro corre en el parque.", "La casa es grande y blanca."],
           "perros corriendo", 1, "el la los las y en es", ["gato", "gatos"]),
    "ru": (["Кошка спит на диване.", "Собака бежит по парку.", "Машина едет очень быстро."],
           "кошкой на диване", 0, "и в на по очень", ["кошка", "кошки", "кошкой"]),
    "el": (["Η γάτα κοιμάται στον καναπέ.", "Ο σκύλος τρέχει στο πάρκο.", "Το αυτοκίνητο είναι κόκκινο."],
           "οι γάτες", 0, "και το η ο", ["γάτα", "γάτες", "γάτας"]),
    "hi": (["लड़के किताबें पढ़ते हैं।", "बिल्ली घर में सोती है।", "गाड़ी बहुत तेज़ चलती है।"],
           "किताब पढ़ना", 0, "में है और का की", ["किताब", "किताबें", "किताबों"]),
    "ar": (["الكتاب على الطاولة.", "القطة نائمة في البيت.", "السيارة سريعة جدا."],
           "كتاب", 0, "في على من إلى", ["كتاب", "الكتاب", "كتابه"]),
    "tr": (["Kitaplar masanın üstünde.", "Kedi evde uyuyor.", "Araba çok hızlı gidiyor."],
           "kitabı", 0, "ve bir bu çok", ["kitap", "kitaplar", "kitabı"]),
    "bg": (["Котката спи на дивана.", "Кучето тича в парка.", "Колата е червена."],
           "куче в парка", 1, "и в на е", None),  # no Snowball stemmer for Bulgarian: stopwords only
    "zh": (["他在东京大学学习。", "我们的猫很可爱。", "今天天气很好。"],
           "东京大学", 0, "我们 的 了", None),
    "ja": (["東京大学で研究しています。", "猫が好きです。", "今日はいい天気ですね。"],
           "東京の大学", 0, "これ それ あの", None),
    "ko": (["서울대학교에서 공부합니다.", "고양이를 좋아해요.", "오늘 날씨가 좋네요."],
           "서울대학교", 0, "그리고 그러나", None),
    "th": (["ฉันชอบแมวมาก", "สุนัขวิ่งในสวน", "วันนี้อากาศดี"],
           "แมว", 0, "และ กับ", None),
}  # fmt: skip


@pytest.mark.parametrize("language", sorted(CORPORA))
def test_a_query_finds_the_right_document(language):
    documents, query, expected, _, _ = CORPORA[language]
    retriever = BM25Retriever(documents, tokenizer=Tokenizer(language=language), show_progress=False)
    assert retriever.retrieve(query, k=3)[0].document.id == str(expected)


@pytest.mark.parametrize("language", sorted(CORPORA))
def test_stopwords_are_removed(language):
    stopwords = CORPORA[language][3].split()
    tokenizer = Tokenizer(language=language)
    assert tokenizer.tokenize(" ".join(stopwords)) == []
    assert Tokenizer(language=language, stopwords=None).tokenize(" ".join(stopwords))  # kept without the list


@pytest.mark.parametrize("language", sorted(language for language in CORPORA if CORPORA[language][4]))
def test_stemming_merges_inflections(language):
    forms = CORPORA[language][4]
    tokenizer = Tokenizer(language=language)
    stems = {tuple(tokenizer.tokenize(form)) for form in forms}
    assert len(stems) == 1 and len(next(iter(stems))) == 1, stems
    unstemmed = Tokenizer(language=language, stemmer=None)
    assert len({tuple(unstemmed.tokenize(form)) for form in forms}) == len(forms)


def test_the_language_chooses_stopwords_and_stemmer():
    assert Tokenizer(language="fr").stopwords == "fr" and Tokenizer(language="fr").stemmer == "french"
    assert Tokenizer(language="bg").stemmer is None and Tokenizer(language="bg").stopwords == "bg"
    assert Tokenizer(language="ta").stopwords is None and Tokenizer(language="ta").stemmer == "tamil"
    assert Tokenizer(language="zh").stemmer is None
    explicit = Tokenizer(language="fr", stopwords=["chat"], stemmer=None)
    assert explicit.tokenize("Le chat noir") == ["le", "noir"]


def test_english_is_unchanged():
    assert Tokenizer(language="en") == Tokenizer() == Tokenizer(stopwords="en", stemmer="english")
    assert Tokenizer().to_dict() == {"lowercase": True, "stopwords": "en", "stemmer": "english",
                                     "pattern": r"\w\w+", "language": "en"}  # fmt: skip
    assert Tokenizer().tokenize("The Trials of a new Drug") == ["trial", "new", "drug"]


def test_combining_marks_stay_inside_words():
    """Python's re cuts Devanagari, Arabic and Thai words at their combining marks; other languages use regex."""
    assert Tokenizer(language="hi", stopwords=None, stemmer=None).tokenize("हिन्दी किताबें") == ["हिन्दी", "किताबें"]
    assert Tokenizer(language="ar", stopwords=None, stemmer=None).tokenize("كِتَابٌ جميل") == ["كِتَابٌ", "جميل"]
    assert re.findall(r"\w\w+", "हिन्दी") == []  # what the English pattern engine makes of it


def test_cjk_text_becomes_character_bigrams():
    tokenizer = Tokenizer(language="zh", stopwords=None)
    assert tokenizer.tokenize("东京大学") == ["东京", "京大", "大学"]
    assert tokenizer.tokenize("猫。狗！") == ["猫", "狗"]  # a lone character stays a unigram; marks separate runs
    assert tokenizer.tokenize("abc東京x and COVID19") == ["abc", "東京", "and", "covid19"]
    assert Tokenizer(language="ja", stopwords=None).tokenize("データーベース々") == ["デー", "ータ", "ター", "ーベ",
                                                                                 "ベー", "ース", "ス々"]  # fmt: skip
    assert Tokenizer(language="ko", stopwords=None).tokenize("학교에서") == ["학교", "교에", "에서"]
    assert Tokenizer(stemmer=None).tokenize("東京大学") == ["東京大学"]  # English keeps a run whole, as before


def test_turkish_lowercasing_keeps_dotted_and_dotless_i_apart():
    tokenizer = Tokenizer(language="tr", stopwords=None, stemmer=None)
    assert tokenizer.tokenize("ISPARTA İstanbul") == ["ısparta", "istanbul"]


def test_named_stopword_lists_and_bad_settings():
    assert Tokenizer(stopwords="de", stemmer=None).tokenize("der Hund und die Katze") == ["hund", "katze"]
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        Tokenizer(language="xx")
    with pytest.raises(TypeError, match="language must be"):
        Tokenizer(language=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Tokenizer(language="fr", pattern="(")
    assert set(SNOWBALL_LANGUAGES) | set(BIGRAM_LANGUAGES) <= set(languages())


@pytest.mark.parametrize("language", ["zh", "hi", "fr"])
def test_round_trip_through_dict(language):
    tokenizer = Tokenizer(language=language)
    assert Tokenizer.from_dict(tokenizer.to_dict()) == tokenizer
    assert TokenizerSettings.model_validate(tokenizer.to_dict()).tokenizer == tokenizer


def test_a_saved_index_reloads_with_its_language(tmp_path):
    documents, query, *_ = CORPORA["zh"]
    retriever = BM25Retriever(documents, tokenizer=Tokenizer(language="zh"), show_progress=False)
    retriever.save(tmp_path / "index")
    manifest = next((tmp_path / "index").rglob("manifest.json"))
    assert json.loads(manifest.read_text())["config"]["tokenizer"]["language"] == "zh"
    loaded = load_retriever(tmp_path / "index", show_progress=False)
    assert loaded.tokenizer == retriever.tokenizer
    assert [(c.document.id, c.retriever_score) for c in loaded.retrieve(query, k=3)] == [
        (c.document.id, c.retriever_score) for c in retriever.retrieve(query, k=3)
    ]


def test_an_index_saved_before_languages_loads_as_english():
    assert BM25Retriever.load(DATA / "v1-bm25", show_progress=False).tokenizer == Tokenizer()


def test_a_saved_unknown_language_is_a_format_error(tmp_path):
    BM25Retriever(["un chat"], tokenizer=Tokenizer(language="fr"), show_progress=False).save(tmp_path / "index")
    manifest = next((tmp_path / "index").rglob("manifest.json"))
    data = json.loads(manifest.read_text())
    data["config"]["tokenizer"]["language"] = "xx"
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="unknown language 'xx'"):
        BM25Retriever.load(tmp_path / "index", show_progress=False)
    data["config"]["tokenizer"]["language"] = 7
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="language must be a str"):
        BM25Retriever.load(tmp_path / "index", show_progress=False)
