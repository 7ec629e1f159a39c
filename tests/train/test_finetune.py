"""Student training on pairs: data layout, interrupt + resume, and `gpdface finetune` end to end."""

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import typer.main
from typer.testing import CliRunner

from conftest import asset
from gpdface.cli import app
from gpdface.errors import InputError
from gpdface.face.align import template_for
from gpdface.nets import StudentConfig
from gpdface.recipe import FinetuneRecipe
from gpdface.train.data.pairs import align_pairs, find_pairs
from gpdface.train.finetune import SHOTS_TEACHER_WEIGHT, distill_config
from gpdface.train.gpd.targets import TRANSFER_BLUR
from gpdface.train.student.distill import CHECKPOINT, DistillConfig, distill_student

TINY = StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)


@pytest.fixture
def pair_dir(tmp_path):
    """Three CUFS pairs in the source/ + target/ layout."""
    cufs = asset("cufs/cuhk/train")
    for sub_in, sub_out in (("photos", "source"), ("sketches", "target")):
        (tmp_path / "pairs" / sub_out).mkdir(parents=True)
        for path in sorted((cufs / sub_in).iterdir())[:3]:
            shutil.copy(path, tmp_path / "pairs" / sub_out / path.name)
    return tmp_path / "pairs"


def test_find_pairs_checks_partners(pair_dir):
    assert [p.name for p in find_pairs(pair_dir)] == sorted(p.stem for p in (pair_dir / "source").iterdir())
    next((pair_dir / "target").iterdir()).unlink()
    with pytest.raises(InputError, match="no partner"):
        find_pairs(pair_dir)
    with pytest.raises(InputError, match="source/ and target/"):
        find_pairs(pair_dir / "source")


def test_interrupted_training_resumes_where_it_stopped(pair_dir, detector, tmp_path):
    pairs = align_pairs(find_pairs(pair_dir), detector, 64, template_for(64))
    config = DistillConfig(steps=6, batch_size=2, checkpoint_every=2, sample_every=3, student=TINY)
    straight = distill_student(pairs, config, tmp_path / "straight", torch.device("cpu"))

    class Interrupted(Exception):
        pass

    def stop_after_three(step, loss):
        if step == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        distill_student(pairs, config, tmp_path / "run", torch.device("cpu"), on_step=stop_after_three)
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)["step"] == 2
    seen = []
    resumed = distill_student(
        pairs, config, tmp_path / "run", torch.device("cpu"), resume=True, on_step=lambda *report: seen.append(report)
    )
    assert seen[0] == (2, {})  # the progress starts at the checkpoint, before any step
    assert [step for step, _ in seen[1:]] == [3, 4, 5, 6]  # continued from the last checkpoint
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, atol=1e-6, rtol=0, msg=key)
    assert (tmp_path / "run" / "samples_000006.png").is_file()


def test_finetune_command_exports_a_usable_style(pair_dir, with_detector, tmp_path, astronaut):
    runner = CliRunner()
    args = [
        "finetune",
        "--pairs",
        str(pair_dir),
        "--name",
        "tiny",
        "--teacher",
        "none",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--eval",
        str(pair_dir),
        "--license",
        "research use (CUFS)",
        "--background",
        "pencil",
        "--loss",
        "ssim=0.5",
        "--loss",
        "feature_matching=0",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"1/4 align {pair_dir}" in result.stderr  # one line per message, however long (not wrapped at 80)
    from gpdface.style import load_style, user_styles_dir

    style_dir = user_styles_dir() / "tiny"
    assert {p.name for p in style_dir.iterdir()} >= {"config.json", "model.safetensors", "style.json", "README.md"}
    meta = json.loads((style_dir / "style.json").read_text())
    assert meta["license"] == "research use (CUFS)" and meta["provenance"]["steps"] == {"distill": 2}
    assert set(meta["provenance"]["metrics"]) == {"anchors", str(pair_dir)}
    # exactly the terms that ran, with their weights; the pencil background's tone fitted to the pairs
    assert meta["provenance"]["terms"] == {"lowpass_l1": 10.0, "ssim": 0.5, "adversarial": 1.0}
    assert meta["background"]["mode"] == "pencil" and len(meta["background"]["tone"]) == 256
    run = __import__("gpdface.hub", fromlist=["gpdface_home"]).gpdface_home() / "runs" / "tiny"
    logged = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in logged] == [2]
    assert set(logged[0]) == {"step", "lowpass_l1", "ssim", "adversarial", "disc", "total"}
    assert load_style("tiny").info.crop_size == 256
    again = runner.invoke(app, args)  # the name is taken: refuse rather than overwrite silently
    assert again.exit_code == 2 and "choose another name with --name NAME, or pass --overwrite" in again.stderr
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    translated = runner.invoke(
        app, ["translate", str(tmp_path / "a.png"), "--style", "tiny", "-o", str(tmp_path / "o.png")]
    )
    assert translated.exit_code == 0, translated.output
    shutil.rmtree(style_dir)  # an interrupted run of the name, without a style yet: continue or restart it
    interrupted = runner.invoke(app, args)
    assert interrupted.exit_code == 2 and "--resume" in interrupted.stderr


def test_finetune_from_five_shots_at_256_px_with_a_64_px_teacher(with_detector, monkeypatch, tmp_path, astronaut):
    """Every two-scale GPD stage with tiny step counts; then a longer run resumes without redoing finished stages."""
    monkeypatch.setenv(
        "GPDFACE_WEIGHTS_PATH", f"{with_detector}:{asset('teachers/dcgan64_digiface.safetensors').parent}"
    )
    shots = tmp_path / "shots"
    shots.mkdir()
    for path in sorted(asset("cufs/cuhk/train/sketches").iterdir())[:5]:
        shutil.copy(path, shots / path.name)
    runner = CliRunner()
    args = [
        "finetune", "--shots", str(shots), "--name", "s5", "--teacher", "dcgan64",
        "--photos", str(asset("faces/lfw-deepfunneled")), "--photos-limit", "60",
        "--steps", "4", "--adapt-steps", "2", "--projection-steps", "3", "--encoder-steps", "3", "--batch-size", "2",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "8/8 export" in result.stderr
    from gpdface.hub import gpdface_home
    from gpdface.style import load_style

    run = gpdface_home() / "runs" / "s5"
    made = {p.name for p in run.iterdir()}
    assert {"align.png", "project.png", "adapt_000002.png", "encode.png", "anchors.safetensors", "student.ckpt"} <= made
    assert "adapt_curve.json" in made
    encoders = list((gpdface_home() / "encoders").glob("dcgan64-*/encoder.ckpt"))
    assert len(encoders) == 1  # trained once per teacher, outside the run: the next style reuses it
    encoder_stamp = encoders[0].stat().st_mtime_ns
    style = load_style("s5")
    assert style.info.crop_size == 256 and style.info.provenance["teacher"] == "dcgan64"  # 256 px, a 64 px teacher
    assert style.info.provenance["shots"] == 5 and style.info.provenance["steps"]["photos"] >= 50
    assert style.info.provenance["terms"]["teacher"] == SHOTS_TEACHER_WEIGHT
    assert style.info.provenance["tone_transfer"] == 1.0  # --tone follow: the targets carry what G_s(w) missed
    assert style.info.provenance["transfer_blur"] == TRANSFER_BLUR
    stamp = (run / "anchors.safetensors").stat().st_mtime_ns
    longer = [("8" if a == "4" and args[i - 1] == "--steps" else a) for i, a in enumerate(args)]
    more = runner.invoke(app, [*longer, "--resume"])  # 8 distillation steps now
    assert more.exit_code == 0, more.output
    assert "kept from the earlier run" in more.stderr
    assert (run / "anchors.safetensors").stat().st_mtime_ns == stamp
    assert encoders[0].stat().st_mtime_ns == encoder_stamp
    assert torch.load(run / "student.ckpt", weights_only=True)["step"] == 8
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    out = runner.invoke(app, ["translate", str(tmp_path / "a.png"), "--style", "s5", "-o", str(tmp_path / "o.png")])
    assert out.exit_code == 0, out.output


def test_shots_alone_learn_from_the_pinned_face_bank(with_detector, monkeypatch, tmp_path, astronaut, grace_hopper):
    """`gpdface finetune --shots ./my_5_images`, nothing more: the default face bank, a name from the folder."""
    from PIL import Image

    from gpdface.train.data.facebank import DEFAULT_FACEBANK, build_facebank, write_facebank

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, image in enumerate([astronaut, grace_hopper, astronaut[:, ::-1], grace_hopper[:, ::-1]]):
        Image.fromarray(image).save(photos / f"p{i}.jpg")
    from gpdface.face.detect import RetinaFaceDetector

    bank, _ = build_facebank(photos, RetinaFaceDetector(), 4, "test photos: public domain", "four faces")
    banks = tmp_path / "banks"
    archive = write_facebank(banks / f"{DEFAULT_FACEBANK}.zip", bank, "all")
    manifest = json.loads(load_manifest_text())
    entry = manifest["facebanks"][DEFAULT_FACEBANK]
    data = archive.read_bytes()
    entry["files"] = {archive.name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("GPDFACE_MANIFEST", str(tmp_path / "manifest.json"))
    teacher_dir = asset("teachers/dcgan64_digiface.safetensors").parent
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", f"{with_detector}:{teacher_dir}:{banks}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shots = tmp_path / "my_5_images"
    shots.mkdir()
    for path in sorted(asset("cufs/cuhk/train/sketches").iterdir())[:5]:
        shutil.copy(path, shots / path.name)
    tiny = ["--teacher", "dcgan64", "--steps", "2", "--adapt-steps", "1", "--projection-steps", "1",
            "--encoder-steps", "1", "--batch-size", "2"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, ["finetune", "--shots", str(shots), *tiny])
    assert result.exit_code == 0, result.output
    assert "named 'my_5_images' after its exemplar folder" in result.stderr
    assert f"the face bank {DEFAULT_FACEBANK}" in result.stderr and "4 faces; licence: test photos" in result.stderr
    from gpdface.style import load_style

    style = load_style("my_5_images")
    assert style.info.provenance["face_bank"] == f"face bank {DEFAULT_FACEBANK}"
    assert style.info.provenance["steps"]["photos"] == 4 and style.info.crop_size == 256
    assert "face bank: test photos: public domain" in style.info.license
    # the whole photo drawn by the style, not a drawn head pasted into the colour photo; the card says so
    assert style.info.background.mode == "student"
    assert "| background | student" in (style.path / "README.md").read_text()
    again = runner.invoke(app, ["finetune", "--shots", str(shots), *tiny])
    assert again.exit_code == 2 and "choose another name with --name NAME" in again.stderr, again.output
    # --photos overrides the bank: its folder is what the style learnt from
    other = runner.invoke(app, ["finetune", "--shots", str(shots), "--name", "mine", "--photos", str(photos), *tiny])
    assert other.exit_code == 1 and "the face bank needs 50+" in other.stderr, other.output


def load_manifest_text() -> str:
    from gpdface.manifest import manifest_path

    return manifest_path().read_text()


def test_a_missing_photos_folder_is_named(tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "a.png").write_bytes(b"")
    (tmp_path / "nophotos").mkdir()
    args = ["finetune", "--shots", str(shots), "--name", "x", "--photos", str(tmp_path / "nophotos")]
    empty = CliRunner().invoke(app, args)
    assert empty.exit_code == 1 and "no images" in empty.stderr


def test_finetune_reports_identity_when_asked(pair_dir, with_detector):
    pytest.importorskip("dlib", reason="the identity figure needs the dev extra (dlib-bin)")
    args = ["finetune", "--pairs", str(pair_dir), "--name", "ident", "--teacher", "none", "--steps", "1"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "1", "--eval", str(pair_dir), "--identity"])
    assert result.exit_code == 0, result.output
    from gpdface.style import user_styles_dir

    meta = json.loads((user_styles_dir() / "ident" / "style.json").read_text())
    scores = meta["provenance"]["metrics"][str(pair_dir)]
    assert 0 <= scores["rank1"] <= 1 and 0 <= scores["rank1_artist"] <= 1
    assert "rank-1" in (user_styles_dir() / "ident" / "README.md").read_text()
    assert meta["provenance"]["device"].startswith("cpu (") and meta["provenance"]["distill_seconds"] >= 0


def test_loss_weights_are_checked(tmp_path, pair_dir):
    runner = CliRunner()
    base = ["finetune", "--pairs", str(pair_dir), "--name", "x", "--teacher", "none", "--steps", "1"]
    unknown = runner.invoke(app, [*base, "--loss", "perceptual=1"])
    assert unknown.exit_code == 2 and "--loss names an unknown term perceptual; known: lowpass_l1" in unknown.stderr
    malformed = runner.invoke(app, [*base, "--loss", "adversarial"])
    assert malformed.exit_code == 2 and "NAME=WEIGHT" in malformed.stderr


def test_shot_errors_are_one_line(tmp_path):
    runner = CliRunner()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["finetune", "--shots", str(tmp_path / "empty"), "--name", "x"])
    assert result.exit_code == 1 and "1–10 exemplars" in result.stderr
    both = runner.invoke(app, ["finetune", "--shots", str(tmp_path), "--pairs", str(tmp_path), "--name", "x"])
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = runner.invoke(app, ["finetune", "--name", "x"])
    assert neither.exit_code == 2 and "--shots DIR (1–10 stylized faces) or --pairs DIR" in neither.stderr
    contradictory = runner.invoke(app, ["finetune", "--shots", str(tmp_path), "--name", "x", "--resume", "--restart"])
    assert contradictory.exit_code == 2 and "give one of them" in contradictory.stderr
    sepia = runner.invoke(app, ["finetune", "--shots", str(tmp_path), "--name", "x", "--tone", "sepia"])
    assert sepia.exit_code == 2 and "--tone must be one of follow, ignore, not 'sepia'" in sepia.stderr
    no_bank = runner.invoke(app, ["finetune", "--pairs", str(tmp_path), "--name", "x", "--teacher", "none",
                                  "--tone", "ignore"])  # fmt: skip
    assert no_bank.exit_code == 2 and "only a style made with a teacher" in no_bank.stderr


def test_push_to_hub_then_download_by_the_printed_manifest_entry(pair_dir, tmp_path, monkeypatch):
    """`--push-to-hub` uploads through huggingface_hub to the loopback Hub; the entry it prints resolves."""
    from gpdface.style import load_style, user_styles_dir
    from hubserver import HubServer

    with HubServer("gpdface-test/pushed", "0" * 40, {}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_test_token_for_loopback")
        args = [
            "finetune",
            "--pairs",
            str(pair_dir),
            "--name",
            "pushed",
            "--teacher",
            "none",
            "--steps",
            "1",
            "--batch-size",
            "1",
            "--aligned",
            "--push-to-hub",
            "gpdface-test/pushed",
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        entry = json.loads(result.stdout[result.stdout.index("{") :])
        revision = entry["pushed"]["source"]["revision"]
        assert len(revision) == 40 and revision in server.commits
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps({"schema": 1, "styles": {"published": entry["pushed"]}}))
        monkeypatch.setenv("GPDFACE_MANIFEST", str(manifest))
        downloaded = load_style("published")
        local = load_style(user_styles_dir() / "pushed")
        for key, value in local.model.state_dict().items():
            assert torch.equal(downloaded.model.state_dict()[key], value)


def test_a_failed_export_keeps_the_earlier_style_and_leaves_nothing_partial(tmp_path, monkeypatch):
    from gpdface.nets import StudentNet
    from gpdface.style import StyleInfo, load_style
    from gpdface.train.student import export

    model = StudentNet(TINY)
    first = export.export_style(tmp_path / "mine", model, StyleInfo("mine", crop_size=64))
    before = {p.name: p.read_bytes() for p in first.iterdir()}

    def broken_card(*args):
        raise OSError("disk full")

    monkeypatch.setattr(export, "model_card", broken_card)
    with pytest.raises(OSError, match="disk full"):
        export.export_style(tmp_path / "mine", StudentNet(TINY), StyleInfo("mine", crop_size=64))
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before  # the earlier style, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left
    assert load_style(tmp_path / "mine").info.crop_size == 64


def test_finetune_help_says_how_long_it_takes():
    help_text = " ".join(CliRunner().invoke(app, ["finetune", "--help"]).stdout.split())
    assert "Time on 2 CPU cores at the defaults (--shots, 300 steps): about 9 min" in help_text


def test_every_training_default_is_the_recipes():
    """The command line leaves what it is not told to the recipe, the one definition of every default that the
    library, the demo and the benchmarks use; its help shows the recipe's values."""
    command = typer.main.get_command(app).commands["finetune"]
    flags = {param.name: param for param in command.params}
    recipe_fields = {f.name for f in dataclasses.fields(FinetuneRecipe)} - {"crop_size"}
    assert recipe_fields <= set(flags)
    assert all(flags[name].default is None for name in recipe_fields)  # not given: the recipe's value
    help_text = " ".join(CliRunner().invoke(app, ["finetune", "--help"]).stdout.split())
    for name in ("steps", "adapt_steps", "projection_steps", "encoder_steps", "photos_limit", "teacher"):
        assert f"(default {getattr(FinetuneRecipe, name)})" in help_text, name
    assert FinetuneRecipe.steps == DistillConfig.steps  # and a direct distill_student call trains as long


def test_a_recipe_round_trips_and_flags_override_it(tmp_path):
    recipe = FinetuneRecipe(steps=40, tone="ignore", loss=(("teacher", 3),))
    assert FinetuneRecipe.from_dict(json.loads(json.dumps(recipe.to_dict())), "x") == recipe
    (tmp_path / "recipe.json").write_text(json.dumps(recipe.to_dict()))
    assert FinetuneRecipe.load(tmp_path / "recipe.json") == recipe
    style = {"name": "x", "provenance": {"recipe": recipe.to_dict()}}  # a style.json: made again from it
    (tmp_path / "style.json").write_text(json.dumps(style))
    assert FinetuneRecipe.load(tmp_path / "style.json") == recipe
    changed = recipe.override(steps=None, seed=3, loss={"relative": 0.5})
    assert changed.steps == 40 and changed.seed == 3 and changed.loss_weights == {"relative": 0.5, "teacher": 3.0}
    (tmp_path / "bad.json").write_text(json.dumps({"steps": 0}))
    result = CliRunner().invoke(app, ["finetune", "--shots", str(tmp_path), "--recipe", str(tmp_path / "bad.json")])
    assert result.exit_code == 2 and "--recipe" in result.stderr and "steps must be at least 1, not 0" in result.stderr
    (tmp_path / "odd.json").write_text(json.dumps({"stepz": 5}))
    result = CliRunner().invoke(app, ["finetune", "--shots", str(tmp_path), "--recipe", str(tmp_path / "odd.json")])
    assert result.exit_code == 2 and "unknown field(s) stepz" in result.stderr


def test_shots_weigh_the_teacher_term_more_unless_loss_says_otherwise(tmp_path):
    """With --shots the face bank's teacher targets are the only real photos the student sees (the anchors'
    sources are projections), so their term weighs SHOTS_TEACHER_WEIGHT; --pairs keeps the library's weight,
    and --loss teacher=… wins over both."""
    recipe = FinetuneRecipe(crop_size=128)
    assert DistillConfig.teacher_weight < SHOTS_TEACHER_WEIGHT
    assert distill_config(recipe, with_teacher=True, shots=True).teacher_weight == SHOTS_TEACHER_WEIGHT
    assert distill_config(recipe, with_teacher=True, shots=False).teacher_weight == DistillConfig.teacher_weight
    overridden = recipe.override(loss={"teacher": 2.0})
    assert distill_config(overridden, with_teacher=True, shots=True).teacher_weight == 2.0
    plain = distill_config(FinetuneRecipe(), with_teacher=False, shots=False)
    assert plain.objective.conditional
    assert not distill_config(FinetuneRecipe(), with_teacher=True, shots=False).objective.conditional
    assert plain.term_weights(with_teacher=False) == DistillConfig().term_weights(with_teacher=False)
    assert distill_config(recipe, with_teacher=True, shots=True).student.resolution == 128
    help_text = " ".join(CliRunner().invoke(app, ["finetune", "--help"]).stdout.split())
    # the CLI writes the weights out (it starts without importing torch): they must say what runs
    said = f"teacher (default {SHOTS_TEACHER_WEIGHT:g} with --shots, {DistillConfig.teacher_weight:g} with --pairs)"
    assert said in help_text


@pytest.mark.parametrize("name", ["a\x01b", "-rf", "../up", "a b"])
def test_an_unsafe_style_name_is_refused_before_any_work(tmp_path, name):
    result = CliRunner().invoke(app, ["finetune", "--shots", str(tmp_path), "--name", name])
    assert result.exit_code == 2 and "not a usable name" in result.stderr, result.output
    assert not (Path(os.environ["GPDFACE_HOME"]) / "runs").exists()


def test_a_shipped_style_name_is_not_hidden_by_a_user_style(tmp_path):
    result = CliRunner().invoke(app, ["finetune", "--shots", str(tmp_path), "--name", "sketch"])
    assert result.exit_code == 2 and "shipped with gpdface" in result.stderr, result.output


def test_a_style_trained_further_starts_from_its_init_and_keeps_its_tone_layer(pair_dir, with_detector):
    """--init: the shipped sketch trained further keeps the graphite layer its metrics were measured with."""
    from gpdface.style import load_style, user_styles_dir

    args = ["finetune", "--pairs", str(pair_dir), "--teacher", "none", "--init", "sketch", "--steps", "1"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "2", "--name", "further"])
    assert result.exit_code == 0, result.output
    shipped, made = load_style("sketch"), load_style(user_styles_dir() / "further")
    assert made.info.tone_layer == shipped.info.tone_layer is not None
    init = made.info.provenance["init"]
    digest = hashlib.sha256((shipped.path / "model.safetensors").read_bytes()).hexdigest()
    assert init == {"style": "sketch", "model_sha256": digest}
    assert made.info.provenance["tone_layer"] == "kept from sketch (--init); metrics include it"


def test_terms_that_name_the_face_bank_are_not_given_it_twice():
    from types import SimpleNamespace

    from gpdface.train.finetune import _style_license

    bank = SimpleNamespace(license="LFW: research use")
    assert _style_license("weights: MIT", bank) == "weights: MIT; face bank: LFW: research use"
    given = "weights: MIT; teacher lfw64 and face bank: LFW (research use)"
    assert _style_license(given, bank) == given
    assert _style_license("", bank) == "face bank: LFW: research use"
    assert _style_license("weights: MIT", None) == "weights: MIT"
