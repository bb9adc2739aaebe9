"""Multitask variants (config `variants:`, `score_study:`), one results folder per config, and
the variant and score-study tables (issues 10 and 13)."""

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from summaries import hand_made_summary
from vcm.cli import app
from vcm.config import multitask_variants, results_root, variant_problems
from vcm.errors import VcmError
from vcm.experiment.bdrate import bd_table
from vcm.experiment.points import foreground_label
from vcm.experiment.variants import paper_anchor, pipeline_facts, score_study_table, variants_table

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CODED_AS_IS = {"keep_every": 1, "carry": "interpolate", "downscale": 1,
               "downscale_regions": 1, "embed": False}


def ci_config(**changes) -> dict:
    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    config.update(changes)
    return config


# --- config -------------------------------------------------------------------------------

def test_the_configs_own_pipeline_alone_without_variants():
    assert multitask_variants(ci_config()) == {
        "multitask": {"variant": "", "score": 0.6, "foreground": {}, **CODED_AS_IS}}


def test_a_variant_replaces_only_the_keys_it_gives():
    config = ci_config(foreground={"margin": 0.1},
                       variants={"grey": {"foreground": {"fill": "grey"}}, "low": {"score": 0.4}})
    assert multitask_variants(config) == {
        "multitask": {"variant": "", "score": 0.6, "foreground": {"margin": 0.1}, **CODED_AS_IS},
        # its foreground replaces the whole section: no margin
        "multitask-grey": {"variant": "grey", "score": 0.6, "foreground": {"fill": "grey"},
                           **CODED_AS_IS},
        "multitask-low": {"variant": "low", "score": 0.4, "foreground": {"margin": 0.1},
                          **CODED_AS_IS},
    }


def test_a_variant_may_code_every_kth_frame_or_embed_the_detections():
    config = ci_config(variants={"k4": {"keep_every": 4, "carry": "box"},
                                 "sei": {"embed": True}, "k4-box": {"keep_every": 4},
                                 "lean": {"embed": {"labels": False, "confidence_bits": 6}}})
    pipelines = multitask_variants(config)
    assert pipelines["multitask-k4"] == {**CODED_AS_IS, "variant": "k4", "score": 0.6,
                                         "foreground": {}, "keep_every": 4, "carry": "box"}
    assert pipelines["multitask-sei"] == {**CODED_AS_IS, "variant": "sei", "score": 0.6,
                                          "foreground": {}, "embed": True}
    assert pipelines["multitask-k4-box"]["carry"] == "interpolate"  # the default
    assert pipelines["multitask-lean"]["embed"] == {"labels": False, "confidence_bits": 6}
    assert variant_problems(config) == []


def test_the_score_study_adds_a_pipeline_per_other_score():
    config = ci_config(score_study=[0.4, 0.6, 0.75])
    pipelines = multitask_variants(config)
    assert list(pipelines) == ["multitask", "multitask-score0.4", "multitask-score0.75"]
    assert pipelines["multitask-score0.75"] == {"variant": "score0.75", "score": 0.75,
                                                 "foreground": {}, **CODED_AS_IS}


@pytest.mark.parametrize("changes, message", [
    ({"variants": {"same": {"score": 0.6}}},
     "variants/same: the same score, foreground and coding as multitask"),
    ({"variants": {"a": {"foreground": {"fill": "grey"}}, "b": {"foreground": {"fill": "grey"}}}},
     "variants/b: the same score, foreground and coding as multitask-a"),
    ({"variants": {"k": {"keep_every": 2}, "k2": {"keep_every": 2, "carry": "interpolate"}}},
     "variants/k2: the same score, foreground and coding as multitask-k"),
    ({"variants": {"both": {"keep_every": 2, "embed": True}}},
     "variants/both: embed needs keep_every 1"),
    ({"variants": {"sei": {"embed": {"labels": False}}, "sei2": {"embed": {"labels": False}}}},
     "variants/sei2: the same score, foreground and coding as multitask-sei"),
    ({"variants": {"score0.4": {"foreground": {"fill": "grey"}}}, "score_study": [0.4]},
     "variants/score0.4: the name of score_study's 0.4 point"),
    ({"variants": {"wide": {"foreground": {"margin": 3}}}}, "variants/wide/foreground"),
    ({"variants": {"r": {"foreground": {"fill": "blur"}, "downscale_regions": 2}}},
     "variants/r: downscale_regions needs fill black or grey"),
    ({"variants": {"r": {"foreground": {"feather": 4}, "downscale_regions": 2}}},
     "variants/r: downscale_regions needs feather 0"),
    ({"variants": {"r": {"downscale": 2, "downscale_regions": 2}}},
     "variants/r: downscale_regions and downscale scale the same pixels"),
])
def test_variants_the_sweep_cannot_run_are_named(changes, message):
    problems = variant_problems(ci_config(**changes))
    assert len(problems) == 1 and problems[0].startswith(message), problems


@pytest.mark.parametrize("changes, where", [
    ({"variants": {"x": {"foreground": {"fill": "pink"}}}}, "variants/x/foreground/fill"),
    ({"variants": {"x": {"colour": 1}}}, "variants/x"),
    ({"variants": {"x": {"keep_every": 0}}}, "variants/x/keep_every"),
    ({"variants": {"x": {"carry": "nearest"}}}, "variants/x/carry"),
    ({"variants": {"x": {"downscale_regions": 17}}}, "variants/x/downscale_regions"),
    ({"variants": {"x": {"embed": {"confidence_bits": 17}}}}, "variants/x/embed"),
    ({"variants": {"x": {"embed": {"colour": 1}}}}, "variants/x/embed"),
    ({"variants": {"../x": {}}}, "variants"),
    ({"score_study": [0.4, 1.5]}, "score_study/1"),
    ({"results": "../elsewhere"}, "results"),
    ({"results": "/tmp/x"}, "results"),
    ({"results": "results/./x"}, "results"),
])
def test_the_schema_refuses_bad_variants_and_results_folders(tmp_path, changes, where):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(ci_config(**changes)))
    result = CliRunner().invoke(app, ["config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {path}: {where}:"), result.output


def test_results_folder_by_config_name_or_key():
    assert results_root(ci_config(), "configs/ci.yaml") == "results/ci"
    assert results_root(ci_config(), "/somewhere/my sweep.v2.yaml") == "results/my sweep.v2"
    assert results_root(ci_config(results="runs/a/"), "configs/ci.yaml") == "runs/a"


def test_foreground_label_names_what_differs_from_the_paper():
    def record(**variant):
        defaults = {"margin": 0.0, "margin_px": 0, "hold": 1, "align": 1, "feather": 0,
                    "fill": "black", "fill_scale": 8}
        return {"parameters": {"variant": {**defaults, **variant}}}

    assert foreground_label(record()) == "paper"
    assert foreground_label(record(fill_scale=4)) == "paper"  # no meaning with black
    assert foreground_label(record(margin=0.25, fill="grey")) == "margin=0.25,fill=grey"
    assert foreground_label(record(fill="blur", fill_scale=4)) == "fill=blur,fill_scale=4"
    every_fourth = record(margin=0.25, fill="grey")
    every_fourth["parameters"]["keep_every"] = 4
    assert foreground_label(every_fourth) == "margin=0.25,fill=grey,keep_every=4"
    paper_every_other = record()
    paper_every_other["parameters"]["keep_every"] = 2
    assert foreground_label(paper_every_other) == "keep_every=2"
    paper_every_other["parameters"]["downscale"] = 4
    assert foreground_label(paper_every_other) == "keep_every=2,downscale=4"
    regions = record(fill="grey")
    regions["parameters"]["downscale_regions"] = 2
    assert foreground_label(regions) == "fill=grey,downscale_regions=2"


# --- tables -------------------------------------------------------------------------------

def summary_with_variants() -> pd.DataFrame:
    """The hand-made summary (multitask = paper's foreground at 0.6), plus `multitask-half`:
    the same accuracy as multitask at exactly half its BPP, and `multitask-score0.4`."""
    summary = hand_made_summary().assign(variant="", foreground="", score=math.nan)
    multitask = summary["pipeline"] == "multitask"
    summary.loc[multitask, ["foreground", "score"]] = ["paper", 0.6]
    half = summary[multitask].assign(pipeline="multitask-half", variant="half",
                                     foreground="fill=grey")
    half["bpp"] = half["bpp"] / 2
    low = summary[multitask].assign(pipeline="multitask-score0.4", variant="score0.4", score=0.4)
    low["bpp"] = low["bpp"] * 1.5
    low["mota"] = low["mota"] - 0.05
    return pd.concat([summary, half, low], ignore_index=True)


def test_the_paper_anchor_is_the_paper_foreground_at_the_same_score():
    facts = pipeline_facts(summary_with_variants())
    assert list(facts.index) == ["multitask", "multitask-half", "multitask-score0.4"]
    assert paper_anchor(facts, "multitask-half") == "multitask"
    assert paper_anchor(facts, "multitask") is None  # the paper's own
    assert paper_anchor(facts, "multitask-score0.4") is None  # paper's at 0.4 is itself


def test_variants_table_by_hand():
    summary = summary_with_variants()
    table = variants_table(summary)
    half = table.loc["multitask-half a"]
    # Half the rate at equal accuracy everywhere: BD-rate -50 % against the paper's.
    assert half["pose_ap BD-rate % vs paper"] == pytest.approx(-50.0, abs=1e-9)
    # Against single-task: 0.5 x (1 + multitask's BD-rate) - 1.
    multitask_bd = bd_table(summary, "pose_ap")["bd_rate_percent"]
    for sequence in ("a", "b", "average"):
        row = table.loc[f"multitask-half {sequence}"]
        expected = 100 * (0.5 * (1 + multitask_bd[sequence] / 100) - 1)
        if sequence != "average":
            assert row["pose_ap BD-rate % vs single"] == pytest.approx(expected, rel=1e-9)
        assert table.loc[f"multitask {sequence}", "pose_ap BD-rate % vs single"] == \
            pytest.approx(multitask_bd[sequence], rel=1e-12)
    assert half["bpp qp22"] == 0.15 and half["bpp qp47"] == 0.03  # 0.3/2, 0.06/2
    assert half["pose_ap qp22"] == 0.8 and half["foreground"] == "fill=grey"
    assert math.isnan(table.loc["multitask a", "pose_ap BD-rate % vs paper"])
    assert table.loc["multitask a", "mota"] == 0.75
    # Encoding seconds per point: (5 + 3) / 2 on a, (7 + 5) / 2 on b.
    assert table.loc["multitask-half a", "encode_s"] == 4.0
    assert table.loc["multitask-half b", "encode_s"] == 6.0
    assert table.loc["multitask-half average", "encode_s"] == 5.0
    assert table.loc["multitask-score0.4 a", "mota"] == pytest.approx(0.70)


def test_score_study_table_by_hand():
    table = score_study_table(summary_with_variants())
    # multitask-half has another foreground: not part of the study.
    assert list(table.index) == ["a 0.4", "a 0.6", "b 0.4", "b 0.6"]
    assert list(table["pipeline"]) == ["multitask-score0.4", "multitask"] * 2
    assert table.loc["a 0.4", "bpp qp22"] == pytest.approx(0.45)  # 0.3 x 1.5
    assert table.loc["a 0.6", "pose_ap qp47"] == 0.7
    assert table.loc["b 0.4", "mota"] == pytest.approx(0.45)


def test_no_study_without_a_second_score():
    summary = summary_with_variants()
    assert score_study_table(summary[summary["pipeline"] != "multitask-score0.4"]).empty
