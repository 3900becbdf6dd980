"""Every page in Chinese: no English interface words left on a ``?lang=zh`` page, every message key the code
asks for exists in both catalogues.

A page is walked element by element (AppTest's tree): labels, tab names, metric names, buttons and table
headings must hold Chinese; captions, notices and Markdown must hold no English sentence of the English
catalogue. Catalog values (titles, skus, file names, paths) are data and stay as the shop wrote them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from app_support import REPO, add_staff_account, delete_on_page, rerun, run_app, shown, sign_in

from assistant.shop.i18n import LOCALES, MESSAGES_DIR

CJK = re.compile(r"[\u3400-\u9fff]")
PLACEHOLDER = re.compile(r"\{\w+\}")
CODE_SPAN = re.compile(r"`[^`]*`")
#: A quotation (a catalog value, an example in the shop's words): “...”.
QUOTED = re.compile(r"“[^”]*”")
#: Four English words in a row outside code spans: a sentence nobody translated.
ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z']+(?:[ ,;:]+[A-Za-z][a-z']+){3,}\b")
#: Proto fields that name a control (must be Chinese), and those that carry prose (must hold no English sentence).
LABEL_FIELDS = ("label",)
PROSE_FIELDS = ("body", "help", "placeholder")
#: Elements whose body is the app's own markup or data, not interface words.
NOT_PROSE = ("html", "code", "metric", "exception")
#: A product card or the product page: HTML around catalog values (titles and descriptions are data).
CATALOG_MARKUP = re.compile(r'<div class="(card|product)')


def catalogue(language: str) -> dict:
    return json.loads((MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))


#: Table columns whose cells are the app's own words (why a row was rejected, a note on a row that went in).
REMARK_COLUMNS = (catalogue("zh")["column.problem"], catalogue("zh")["column.note"])


def message_texts(entry) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry.values())


def english_phrases() -> set[str]:
    """Pieces of English messages (between placeholders and markup) of two words or more, which a Chinese
    page must not show."""
    chinese = catalogue("zh")
    phrases = set()
    for key, entry in catalogue("en").items():
        if message_texts(entry) == message_texts(chinese[key]):
            continue  # the same in both languages (a name)
        for text in message_texts(entry):
            for piece in PLACEHOLDER.split(CODE_SPAN.sub("{}", text.replace("*", ""))):
                piece = piece.strip(" .,:;()“”")
                if len(piece.split()) >= 2:
                    phrases.add(piece)
    return phrases


def walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def interface_texts(at) -> tuple[list[str], list[str]]:
    """(labels, prose) of everything the page drew: widget, tab and metric labels and table headings; captions,
    notices, Markdown, help texts and placeholders. Markdown escapes are removed."""
    labels, prose = [], []
    for node in walk(at._tree):
        proto, kind = getattr(node, "proto", None), getattr(node, "type", "")
        if proto is None:
            continue
        if kind == "arrow_data_frame":
            labels += [str(c) for c in node.value.columns]
            prose += [str(v) for c in REMARK_COLUMNS if c in node.value.columns for v in node.value[c]]
        fields = {f.name: v for f, v in proto.ListFields() if isinstance(v, str)}
        labels += [fields[f] for f in LABEL_FIELDS if fields.get(f)]
        if kind not in NOT_PROSE:
            prose += [fields[f] for f in PROSE_FIELDS if fields.get(f) and not CATALOG_MARKUP.search(fields[f])]
    unescape = lambda s: re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", s)  # noqa: E731
    return [unescape(s) for s in labels], [unescape(s) for s in prose]


def assert_all_chinese(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    labels, prose = interface_texts(at)
    assert prose, "the page drew words"
    english_labels = [label for label in labels if not CJK.search(label)]
    assert not english_labels, f"labels without Chinese: {english_labels}"
    phrases = english_phrases()
    for text in prose:
        words = QUOTED.sub(" ", CODE_SPAN.sub(" ", text))
        assert not ENGLISH_RUN.search(words), f"English on a Chinese page: {text!r}"
        assert not [p for p in phrases if p in text], f"an English message on a Chinese page: {text!r}"


ZH = {"ASSISTANT_LANGUAGE": "zh"}
HEADER = "sku,title,description,category,metal,stone,price,currency,image\n"


def test_the_sign_in_form_and_its_refusals_in_chinese(monkeypatch, app_catalog):
    add_staff_account(app_catalog)
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", **ZH)
    assert_all_chinese(at)
    for _ in range(5):  # the fifth failure also says how long to wait
        sign_in(at, password="not the password")
    assert at.error[0].value.startswith("姓名或密码错误。") and "秒后再试" in at.error[0].value
    assert_all_chinese(at)


def test_the_catalog_page_in_chinese_after_an_import_a_delete_and_with_a_trail(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True, **ZH)
    at.file_uploader(key="import-csv").set_value(
        ("products.csv", (HEADER + "NEW-1,,No title,ring,silver,none,80,USD,\n").encode(), "text/csv")
    )
    rerun(at)
    at.button(key="import-run").click()
    rerun(at)
    assert "有 1 行被拒绝" in at.warning[0].value
    delete_on_page(at, "SYN-00004")
    assert [t.label for t in at.tabs] == ["导入", "浏览与编辑", "回收站", "操作记录"]
    assert "年" in next(d.value for d in at.dataframe if "删除时间" in d.value.columns)["删除时间"][0]
    assert_all_chinese(at)


def test_the_merchandiser_page_in_chinese_with_a_preview(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/merchandiser.py", signed_in=True, **ZH)
    assert_all_chinese(at)
    next(t for t in at.text_input if t.label == "名称").input("cocktail ring")
    next(b for b in at.button if b.label == "预览").click()
    rerun(at)
    assert "将归入" in at.subheader[0].value
    assert_all_chinese(at)
    at.button(key="merch-discard").click()
    rerun(at)
    assert at.success[0].value.startswith("已放弃草稿")
    assert_all_chinese(at)


def test_the_merchandiser_says_in_chinese_why_a_trained_head_is_not_used(monkeypatch, app_catalog):
    from assistant.catalog import Catalog
    from assistant.categories.catalog_labels import head_path
    from assistant.categories.fewshot import Maml
    from assistant.clip.factory import TEST_MODEL_SPEC

    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    Maml(catalog.dim, 14.3).save(head_path(catalog), "ViT-B-32:laion2b_s34b_b79k", {"source": "another model"})
    at = run_app(monkeypatch, app_catalog, "app_pages/merchandiser.py", signed_in=True, **ZH)

    warning = shown(at.warning[0].value)
    assert warning.startswith("小样本品类模型 ") and "是用模型 'ViT-B-32:laion2b_s34b_b79k' 的向量训练的" in warning
    assert warning.endswith("在此之前，有照片的品类按原型融合（文字与照片）学习。")
    command = "python -m assistant --model tiny-test train categories"  # a command is code, the same in any language
    words = warning.replace(command, " ")
    assert command in warning and not ENGLISH_RUN.search(words) and not [p for p in english_phrases() if p in words]


@pytest.mark.parametrize("page", ["app_pages/shop.py", "app_pages/kiosk.py"])
def test_the_shoppers_pages_in_chinese(monkeypatch, app_catalog, page):
    assert_all_chinese(run_app(monkeypatch, app_catalog, page, **ZH))


def test_the_welcome_page_of_an_empty_catalog_in_chinese(monkeypatch, tmp_path):
    at = run_app(monkeypatch, tmp_path / "empty", signed_in=True, **ZH)
    assert at.button(key="welcome-demo").label == "添加 120 件合成演示商品"
    assert_all_chinese(at)


def test_the_setup_page_in_chinese(monkeypatch, tmp_path):
    at = run_app(monkeypatch, tmp_path / "catalog", model=f"ViT-B-32:{tmp_path / 'missing.safetensors'}", **ZH)
    assert at.title[0].value == "需要设置"
    assert_all_chinese(at)


def record_downloads(monkeypatch) -> dict[str, bytes]:
    """file name -> bytes of every download button the page draws (what a click would save)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    saved: dict[str, bytes] = {}
    store = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            saved[filename] = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        return store(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return saved


def import_upload(at, csv_bytes: bytes, photos: list[tuple[str, bytes, str]] = ()):
    at.file_uploader(key="import-csv").set_value(("products.csv", csv_bytes, "text/csv"))
    if photos:
        at.file_uploader(key="import-photos").set_value(list(photos))
    rerun(at)
    at.button(key="import-run").click()
    return rerun(at)


#: One CSV whose rows are rejected for four different reasons (rows 3-6), after one good row.
MIXED_ROWS = HEADER + (
    "NEW-1,Gold cuff,,bracelet,yellow gold,none,310,USD,cuff.png\n"
    'NEW-2,Silver ring,,ring,silver,none,"12,50",USD,\n'
    ",Pearl studs,,earring,silver,pearl,80,USD,\n"
    "NEW-1,Gold cuff again,,bracelet,yellow gold,none,320,USD,\n"
    "NEW-3,Emerald drop,,pendant,platinum,emerald,900,USD,broken.png\n"
)
REJECTED_IN_CHINESE = [
    "'12,50' 有歧义：逗号只用作千位分隔（1,250）；请写成 12.50",
    "为空；每件商品都需要一个唯一的货号",
    "与第 2 行重复",
    "broken.png 不是可读取的图片：不是 JPEG、PNG、WebP、BMP、GIF 或 TIFF 文件",
]


def test_an_import_in_chinese_says_why_each_row_was_rejected_on_the_page_and_in_the_download(
    monkeypatch, app_catalog, synthetic_source
):
    downloads = record_downloads(monkeypatch)
    photo = (synthetic_source.parent / "images" / "SYN-00001.png").read_bytes()
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True, **ZH)

    import_upload(at, MIXED_ROWS.encode(), [("cuff.png", photo, "image/png"), ("broken.png", b"no photo", "image/png")])

    [table] = [d.value for d in at.dataframe if "问题" in d.value.columns]
    where = [[3, "NEW-2", "price"], [4, "", "sku"], [5, "NEW-1", "sku"], [6, "NEW-3", "image"]]
    assert table[["行", "货号", "列"]].values.tolist() == where
    assert table["问题"].tolist() == REJECTED_IN_CHINESE
    assert "有 4 行被拒绝" in at.warning[0].value
    assert_all_chinese(at)
    rows = list(csv.reader(io.StringIO(downloads["rejected-rows.csv"].decode())))
    assert rows[0] == ["文件", "行", "货号", "列", "问题"]
    assert [row[1:] for row in rows[1:]] == [[str(r), s, c, p] for (r, s, c), p in zip(where, REJECTED_IN_CHINESE)]


def test_a_semicolon_csv_and_a_broken_row_are_explained_in_chinese(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True, **ZH)

    import_upload(at, HEADER.replace(",", ";").encode() + b"NEW-1;Gold cuff;;bracelet;gold;none;310;USD;\n")

    [error] = [shown(e.value) for e in at.error]
    assert error.startswith("未导入任何商品：products.csv：缺少列 sku, title")
    assert "该文件用分号（;）分隔，而不是逗号" in error
    assert_all_chinese(at)

    downloads = record_downloads(monkeypatch)
    import_upload(at, (HEADER + 'NEW-2,"Ring, "with" quote,,ring,silver,none,80,USD,,extra\n').encode())

    [table] = [d.value for d in at.dataframe if "问题" in d.value.columns]
    assert table["列"].tolist() == ["（整行）"] and "含逗号的单元格请用英文双引号括起来" in table["问题"][0]
    assert_all_chinese(at)
    rows = list(csv.reader(io.StringIO(downloads["rejected-rows.csv"].decode())))
    assert rows[1][3:] == table[["列", "问题"]].values.tolist()[0]


#: ``t("key")``, ``tn("key", n)``, ``text_or("key", ...)`` and ``st.spinner(t("key"))`` calls with a literal key.
KEY_IN_CODE = re.compile(r"""\b(?:t|tn|text)\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")


def test_every_message_the_code_asks_for_is_in_every_catalogue():
    sources = [*Path(REPO, "ui").glob("*.py"), *Path(REPO, "app_pages").glob("*.py"), REPO / "app.py"]
    used = {key for path in sources for key in KEY_IN_CODE.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 150, "the pattern still finds the code's message keys"
    for language in LOCALES:
        assert not used - set(catalogue(language)), language


#: ``Reason("key", ...)`` in the engine: a problem the pages say in their language.
REASON_IN_CODE = re.compile(r"""\bReason\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")


def test_every_reason_the_engine_gives_is_in_every_catalogue_and_rendered_from_it():
    import stat

    from assistant.catalog.ingest import _SEPARATORS
    from assistant.images import file_kind
    from assistant.shop.i18n import messages

    sources = Path(REPO, "assistant").rglob("*.py")
    used = {key for path in sources for key in REASON_IN_CODE.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 40, "the pattern still finds the engine's reasons"
    kinds = (stat.S_IFDIR, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK, stat.S_IFLNK)
    used |= {file_kind(mode).key for mode in kinds} | {f"ingest.separator.{name}" for name in _SEPARATORS.values()}
    for language in LOCALES:
        assert not used - set(catalogue(language)), language
        assert all(isinstance(messages(language).entries[key], str) for key in used), "a reason is one sentence"
    assert messages("zh").localized(file_kind(stat.S_IFDIR)) == "文件夹"


def test_streamlits_own_widget_words_are_drawn_in_the_pages_language():
    from assistant.shop.i18n import messages
    from ui.style import built_in_words_css, css_string

    assert built_in_words_css(messages("en")) == "", "English: Streamlit's own words"
    chinese = built_in_words_css(messages("zh"))
    assert 'content: "上传"' in chinese and 'content: "拍照"' in chinese and 'content: "清除照片"' in chinese
    assert css_string('x"}</style>') == '"x\\22 \\7d \\3c \\2f style\\3e "', "a message cannot end the CSS string"
