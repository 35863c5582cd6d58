"""Pipeline strings: parsing every option type, canonical printing, round trips, named
pipelines, and the errors (did-you-mean, bad values, syntax) with their positions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv.core.pass_manager import PassManager
from tflconv.core.pass_options import format_value, pass_options, pass_summary
from tflconv.core.passes import PASSES, Pass, register_pass
from tflconv.core.pipeline import (
    PIPELINES,
    PipelineError,
    format_pipeline,
    parse_pipeline,
    register_pipeline,
)


class Mode(enum.Enum):
    FAST = 1
    SAFE = 2


@register_pass
@dataclass(frozen=True)
class OptionsPass(Pass):
    """A pass with one option of each supported type (pipeline tests only)."""

    name: ClassVar[str] = "test-options"
    flag: bool = False
    """A boolean."""
    count: int = 3
    """An integer,
    documented on two lines."""
    ratio: float = 0.5
    label: str = "x"
    ops: tuple[str, ...] = ()
    sizes: tuple[int, ...] = (1, 2)
    limit: int | None = None
    tag: str | None = None
    kind: Literal["int8", "float16"] = "int8"
    mode: Mode = Mode.FAST

    def run(self, module, ctx):
        return False


@pytest.fixture
def scratch_pipelines():
    saved = dict(PIPELINES)
    yield
    PIPELINES.clear()
    PIPELINES.update(saved)


def one(text: str) -> OptionsPass:
    (p,) = parse_pipeline(text)
    return p


def test_every_option_type_parses():
    p = one(
        'test-options{flag=true count=-7 ratio=1e-3 label="a b,c{}" ops=[tfl.add,"x y"] '
        "sizes=4,5,6 limit=12 tag=none kind=float16 mode=SAFE}"
    )
    assert p.flag is True and p.count == -7 and p.ratio == 1e-3
    assert p.label == "a b,c{}"
    assert p.ops == ("tfl.add", "x y")
    assert p.sizes == (4, 5, 6)
    assert p.limit == 12 and p.tag is None
    assert p.kind == "float16" and p.mode is Mode.SAFE


def test_option_shorthands():
    assert one("test-options{flag}").flag is True  # a bare key means true
    assert one("test-options{flag=0}").flag is False
    assert one("test-options{count=0x10}").count == 16
    assert one("test-options{ops=[]}").ops == ()
    assert one("test-options{ops=single}").ops == ("single",)
    assert one('test-options{tag="none"}').tag == "none"  # quoted: the string, not None
    assert one("test-options{max_iterations=1}".replace("max_iterations", "count")).count == 1
    assert one("  test-options { count=2   flag }  ").count == 2


def test_canonical_form_lists_only_non_defaults_in_field_order():
    p = one('test-options{mode=SAFE label="hello world" flag=true}')
    assert format_pipeline([p]) == 'test-options{flag=true label="hello world" mode=SAFE}'
    assert format_pipeline([one("test-options{count=3 ratio=0.5}")]) == "test-options"
    assert str(p) == format_pipeline([p])


@pytest.mark.parametrize(
    "text",
    [
        "dce,cse,canonicalize{max-iterations=4}",
        'test-options{flag=true count=-1 ratio=0.1 label="a,b" ops=[a,"b c",d] sizes=[] '
        'limit=0 tag="none" kind=float16 mode=SAFE}',
        'test-options{label="quote\\"back\\\\slash"}',
        "test-options{ratio=inf limit=none}",
        "canonicalize{disable-patterns=[RemoveNoopCast,SignBitTest] fold=false}",
    ],
)
def test_round_trip(text):
    canonical = format_pipeline(parse_pipeline(text))
    assert format_pipeline(parse_pipeline(canonical)) == canonical
    assert [type(p) for p in parse_pipeline(canonical)] == [type(p) for p in parse_pipeline(text)]
    assert parse_pipeline(canonical) == parse_pipeline(text)


def test_canonical_strings_print_back_identically():
    for text in ["dce", "cse,dce", "test-options{count=4 ops=[a,b]}", 'test-options{label="x y"}']:
        assert format_pipeline(parse_pipeline(text)) == text


def test_format_value_spellings():
    assert format_value(True) == "true"
    assert format_value(None) == "none"
    assert format_value("none") == '"none"'
    assert format_value("") == '""'
    assert format_value(("a", "b c")) == '[a,"b c"]'
    assert format_value(0.1) == "0.1"
    assert format_value(Mode.SAFE) == "SAFE"


def test_empty_pipeline():
    assert parse_pipeline("") == [] and parse_pipeline("   ") == []
    assert format_pipeline([]) == ""


def test_unknown_pass_suggests_close_names():
    with pytest.raises(PipelineError) as e:
        parse_pipeline("cse,canonicalise")
    msg = str(e.value)
    assert "unknown pass 'canonicalise'" in msg and "did you mean 'canonicalize'" in msg
    # The caret points at the pass in the pipeline.
    lines = msg.splitlines()
    assert lines[1].strip() == "cse,canonicalise"
    assert lines[2].index("^") == lines[1].index("canonicalise")


def test_unknown_option_suggests_close_names():
    with pytest.raises(
        PipelineError, match=r"no option 'max-iteration'; did you mean 'max-iterations'"
    ):
        parse_pipeline("canonicalize{max-iteration=3}")
    with pytest.raises(PipelineError, match=r"pass 'dce' has no option 'x'; it has no options"):
        parse_pipeline("dce{x=1}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test-options{count=abc}", "option 'count' of pass 'test-options': expected int"),
        ("test-options{flag=yes}", "expected bool"),
        ("test-options{ratio=fast}", "expected float"),
        ("test-options{kind=int4}", "expected {int8|float16} (one of int8, float16)"),
        ("test-options{mode=SLOW}", "one of FAST, SAFE"),
        ("test-options{sizes=[1,x]}", "expected [int,...]"),
        ("test-options{limit=lots}", "expected int | none"),
        ("test-options{count}", "'count' of pass 'test-options'"),
        ("test-options{label=[a]}", "a list is not allowed here"),
    ],
)
def test_bad_values_name_pass_option_and_type(text, expected):
    with pytest.raises(PipelineError) as e:
        parse_pipeline(text)
    assert expected in str(e.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cse,", "expected a pass name"),
        ("cse dce", "expected ',' between passes"),
        ("test-options{count=1", "unterminated '{'"),
        ('test-options{label="abc}', "unterminated string"),
        ("test-options{ops=[a b]}", "expected ',' or ']'"),
        ("test-options{count=1,flag}", "expected int"),
        ("test-options{count=1 count=2}", "given twice"),
    ],
)
def test_syntax_errors(text, expected):
    with pytest.raises(PipelineError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        parse_pipeline(text)


def test_named_pipelines_expand(scratch_pipelines):
    register_pipeline("test-cleanup", "canonicalize{max-iterations=2},cse", "Tidy up.")
    register_pipeline("test-outer", "test-cleanup,dce")
    passes = parse_pipeline("test-outer,test-options{count=9}")
    assert format_pipeline(passes) == "canonicalize{max-iterations=2},cse,dce,test-options{count=9}"
    with pytest.raises(PipelineError, match="takes no options"):
        parse_pipeline("test-cleanup{x=1}")
    with pytest.raises(PipelineError, match="did you mean 'test-cleanup'"):
        parse_pipeline("test-claenup")


def test_named_pipeline_errors(scratch_pipelines):
    register_pipeline("test-a", "test-b")
    register_pipeline("test-b", "test-a")
    with pytest.raises(PipelineError, match="cycle: test-a -> test-b -> test-a"):
        parse_pipeline("test-a")
    register_pipeline("test-bad", "dce,nope")
    with pytest.raises(PipelineError, match="in named pipeline 'test-bad': unknown pass 'nope'"):
        parse_pipeline("test-bad")
    with pytest.raises(ValueError, match="already a pass name"):
        register_pipeline("dce", "cse")
    with pytest.raises(PipelineError):
        register_pipeline("test-syntax", "cse,,dce")


def test_option_docs_come_from_attribute_docstrings():
    infos = {i.key: i for i in pass_options(OptionsPass)}
    assert infos["flag"].doc == "A boolean."
    assert infos["count"].doc == "An integer,\ndocumented on two lines."
    assert infos["ratio"].doc == ""
    assert infos["ops"].type_name == "[str,...]"
    assert infos["limit"].type_name == "int | none"
    assert (
        pass_summary(OptionsPass)
        == "A pass with one option of each supported type (pipeline tests only)."
    )
    assert pass_summary(PASSES["canonicalize"]).startswith("Apply the registered canonicalization")


def test_pass_manager_from_pipeline_prints_canonical_string():
    pm = PassManager.from_pipeline("dce , canonicalize{max-iterations=10 fold=false}")
    assert str(pm) == "dce,canonicalize{fold=false}"


def test_register_pass_rejects_a_taken_name():
    @dataclass(frozen=True)
    class Other(Pass):
        name: ClassVar[str] = "dce"

    with pytest.raises(ValueError, match="taken"):
        register_pass(Other)


def test_options_of_a_pass_whose_annotations_do_not_resolve():
    """A pass defined where its string annotations cannot be evaluated (a local `ClassVar`
    import) still lists its options (`tflconv opt --list-passes` must not crash on it)."""
    namespace: dict = {}
    exec(  # noqa: S102 - a module whose globals lack ClassVar, as a test file's function
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "from tflconv.core.passes import Pass\n"
        "def make():\n"
        "    from typing import ClassVar\n"
        "    @dataclass(frozen=True)\n"
        "    class LocalPass(Pass):\n"
        "        name: ClassVar[str] = 'local-pass'\n"
        "        depth: int = 3\n"
        "    return LocalPass\n",
        namespace,
    )
    infos = pass_options(namespace["make"]())
    assert [(i.key, i.default) for i in infos] == [("depth", 3)]
