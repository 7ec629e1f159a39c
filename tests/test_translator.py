"""Translator end to end on real photos, with test styles (never shipped) and an identity student."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import IdentityNet, make_style
from gpdface import NoFaceError, Translator, UsageError
from gpdface.errors import InputError
from gpdface.face.blend import head_mask
from gpdface.options import OptionError


@pytest.fixture
def translator(style_dir, with_detector):
    return Translator(style_dir, device="cpu")


@pytest.fixture
def identity(style_dir, with_detector):
    t = Translator(style_dir, device="cpu")
    t.model = IdentityNet()
    return t


def changed_pixels(a, b):
    return (a != b).any(axis=2)


def test_two_faces_are_translated_and_background_untouched(translator, two_faces):
    result = translator(two_faces)
    assert len(result.faces) == 2
    assert result.image.shape == two_faces.shape
    changed = changed_pixels(result.image, two_faces)
    for face in result.faces:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        assert changed[y0:y1, x0:x1].mean() > 0.5  # each face was replaced
    # With `background: keep` (the test style's), nothing changed outside every face's head mask.
    import cv2

    size = translator.crop_size
    union = np.zeros(two_faces.shape[:2], np.float32)
    for face in result.faces:
        mask = head_mask(cv2.transform(face.landmarks[None], face.matrix)[0], size)
        union = np.maximum(union, cv2.warpAffine(mask, face.inverse, two_faces.shape[1::-1]))
    assert not changed[union == 0].any()
    assert (union == 0).mean() > 0.5


def test_identity_student_reproduces_the_photo(identity, astronaut):
    result = identity(astronaut)
    assert len(result.faces) == 1
    error = np.abs(result.image.astype(int) - astronaut.astype(int))
    assert error.mean() < 1.0  # only the face region is resampled twice
    face = result.faces[0]
    assert face.crop.shape == (256, 256, 3)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert error[y0:y1, x0:x1].mean() < 8


@pytest.mark.parametrize("kind", ["path", "pil", "array", "tensor"])
def test_every_input_type_gives_the_same_result(translator, astronaut, tmp_path, kind):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    source = {
        "path": tmp_path / "a.png",
        "pil": Image.fromarray(astronaut),
        "array": astronaut,
        "tensor": torch.from_numpy(astronaut).permute(2, 0, 1),
    }[kind]
    reference = translator(astronaut)
    result = translator(source)
    assert np.array_equal(result.image, reference.image)
    assert result.source == (str(tmp_path / "a.png") if kind == "path" else None)


def test_crop_and_both_outputs(translator, two_faces, tmp_path):
    translator.output = "both"
    result = translator(two_faces)
    written = result.save(tmp_path / "out.jpg")
    assert [p.name for p in written] == ["out.jpg", "out_face0.jpg", "out_face1.jpg"]
    assert all(p.is_file() for p in written)
    assert result.faces[0].outputs == [str(tmp_path / "out.jpg"), str(tmp_path / "out_face0.jpg")]
    translator.output = "crop"
    assert [p.name for p in translator(two_faces).save(tmp_path / "c.png")] == ["c_face0.png", "c_face1.png"]


def test_style_default_output_mode(tmp_path, with_detector, astronaut):
    style = make_style(tmp_path, "cropper", default_output="crop")
    assert Translator(style).output == "crop"
    assert Translator(style, output="paste").output == "paste"


def test_aligned_input_skips_detection(style_dir, no_face):
    # No detector weights are available here (no GPDFACE_WEIGHTS_PATH): aligned mode must not need them.
    result = Translator(style_dir, device="cpu")(no_face, aligned=True)
    assert len(result.faces) == 1 and result.faces[0].score == 1.0
    assert result.image.shape == no_face.shape
    assert result.faces[0].crop.shape == (256, 256, 3)


def test_no_face_raises(translator, no_face):
    with pytest.raises(NoFaceError, match="pass aligned=True") as info:  # the API's argument, not the flag
        translator(no_face)
    assert "--" not in str(info.value)


def test_rgba_alpha_is_kept(translator, astronaut, tmp_path):
    alpha = np.full(astronaut.shape[:2], 200, np.uint8)
    alpha[:50] = 0
    Image.fromarray(np.dstack([astronaut, alpha])).save(tmp_path / "rgba.png")
    result = translator(tmp_path / "rgba.png")
    result.save(tmp_path / "out.png")
    back = np.asarray(Image.open(tmp_path / "out.png"))
    assert back.shape[2] == 4 and np.array_equal(back[..., 3], alpha)


def test_grayscale_and_exif_rotated_inputs(translator, astronaut, tmp_path):
    Image.fromarray(astronaut).convert("L").save(tmp_path / "grey.png")
    assert len(translator(tmp_path / "grey.png").faces) == 1
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated 90° counter-clockwise
    Image.fromarray(np.rot90(astronaut, k=-1)).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    result = translator(tmp_path / "rot.jpg")
    assert result.image.shape == astronaut.shape  # upright after EXIF
    lm = result.faces[0].landmarks
    assert lm[0, 1] < lm[3, 1]  # eyes above the mouth: the face is upright


def test_max_faces_keeps_the_largest(translator, two_faces):
    every = translator(two_faces).faces
    side = [max(f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in every]
    assert len(every) == 2 and side[0] > side[1]  # the order this relies on: largest first
    translator.max_faces = 1
    kept = translator(two_faces).faces
    assert len(kept) == 1 and kept[0].box == every[0].box


def test_save_refuses_to_replace_the_input(translator, astronaut, tmp_path):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()
    result = translator(tmp_path / "a.png")
    with pytest.raises(UsageError, match="is the input"):
        result.save(tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == before
    result.save(tmp_path / "a.png", overwrite=True)
    assert (tmp_path / "a.png").read_bytes() != before


def test_translate_many_reports_bad_inputs_and_goes_on(translator, astronaut, tmp_path):
    Image.fromarray(astronaut).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    results = list(translator.translate_many([tmp_path / "bad.png", tmp_path / "good.png"]))
    assert isinstance(results[0][1], InputError)
    assert len(results[1][1].faces) == 1


def test_large_photo_with_one_face(translator, astronaut):
    canvas = np.full((4000, 6000, 3), 120, np.uint8)  # 24 megapixels
    canvas[1500:2524, 2500:3524] = np.asarray(Image.fromarray(astronaut).resize((1024, 1024)))
    result = translator(canvas)
    assert len(result.faces) == 1
    changed = changed_pixels(result.image, canvas)
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 1400 and ys.max() < 2700 and xs.min() >= 2400 and xs.max() < 3700  # only the face region


def test_bad_options_are_one_error_class_whichever_door(style_dir):
    """The API and the command line check options in one place: the same class, exit code and words."""
    with pytest.raises(OptionError, match="output must be one of paste, crop, both, not 'sideways'") as caught:
        Translator(style_dir, output="sideways")
    assert caught.value.exit_code == 2 and isinstance(caught.value, ValueError)
    assert caught.value.for_command_line() == "--output must be one of paste, crop, both, not 'sideways'"
    with pytest.raises(OptionError, match="max_faces must be at least 1"):
        Translator(style_dir, max_faces=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_cuda_asked_for_but_absent(style_dir):
    with pytest.raises(InputError, match="no CUDA device"):
        Translator(style_dir, device="cuda")


def test_translate_many_pools_crops_across_images_with_the_same_results(translator, two_faces, astronaut):
    calls = []
    original = translator.stylize

    def counting(crops):
        calls.append(len(crops))
        return original(crops)

    translator.stylize = counting
    translator.batch_size = 3
    results = list(translator.translate_many([two_faces, astronaut, two_faces]))
    assert calls == [3, 2]  # 2 + 1 crops pooled into one pass, then the last image's 2
    assert [len(r.faces) for _, r in results] == [2, 1, 2]
    translator.stylize = original
    for (_, pooled), image in zip(results, [two_faces, astronaut, two_faces], strict=True):
        single = translator(image)
        assert np.abs(pooled.image.astype(int) - single.image.astype(int)).max() <= 1  # same up to rounding


def outside_masks(result, shape):
    import cv2

    union = np.zeros(shape[:2], np.float32)
    for face in result.faces:
        mask = head_mask(cv2.transform(face.landmarks[None], face.matrix)[0], face.crop.shape[0])
        union = np.maximum(union, cv2.warpAffine(mask, face.inverse, shape[1::-1]))
    return union == 0


def test_background_policies_render_the_rest_of_the_photo(tmp_path, with_detector, two_faces):
    from gpdface.background import Background, render_background

    pencil = Background("pencil", blur=0.1, shading=0.5)
    style = make_style(tmp_path, "drawn", background=pencil)
    translator = Translator(style, device="cpu")
    assert translator.background == pencil
    result = translator(two_faces)
    outside = outside_masks(result, two_faces.shape)
    largest = result.faces[0]
    eye_distance = np.hypot(*(translator.template[1] - translator.template[0])) / np.sqrt(
        abs(np.linalg.det(largest.matrix[:, :2]))
    )
    expected = render_background(two_faces, pencil, eye_distance)
    assert np.array_equal(result.image[outside], expected[outside])
    assert not np.array_equal(expected, two_faces)

    kept = Translator(style, device="cpu", background="keep")(two_faces)  # the caller overrides the style
    assert np.array_equal(kept.image[outside], two_faces[outside])
    grey = Translator(style, device="cpu", background="grey")(two_faces).image
    assert (grey[outside][:, 0] == grey[outside][:, 2]).all()


def test_student_background_runs_the_student_on_the_whole_photo(identity, astronaut):
    from gpdface.background import Background

    identity.background = Background("student")
    result = identity(astronaut)
    error = np.abs(result.image.astype(int) - astronaut.astype(int))
    assert error.mean() < 6  # the identity student, resized there and back
    with pytest.raises(OptionError, match="background"):
        Translator(identity.style.path, device="cpu", background="sepia")


def test_student_background_in_tiles_equals_the_whole_photo_at_once(tmp_path, astronaut):
    """The `student` background runs in tiles (bounded memory); for a batch-normalised student — local in eval
    mode — that is exactly the photo drawn in one pass."""
    from gpdface.imageio import to_tensor, to_uint8

    style = make_style(tmp_path, "local", seed=3)
    translator = Translator(style, device="cpu")
    for module in translator.model.modules():  # running statistics other than their initial values
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.5, 2.0)
    # 504 × 1024: two tiles, each drawn with its margin
    photo = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)[:504]
    tiled = translator.stylize_whole(photo, 1.0)
    with torch.inference_mode():
        whole = to_uint8(translator.model(to_tensor(photo)[None]).float())[0]
    assert tiled.shape == photo.shape
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1  # uint8 rounding only


def test_a_bad_input_in_a_stream_is_yielded_and_the_stream_goes_on(translator, astronaut):
    closed = Image.new("RGB", (8, 8))
    closed.close()
    outcomes = list(translator.translate_many([closed, astronaut, torch.zeros(3, 8, 8, device="meta")]))
    assert [type(r).__name__ for _, r in outcomes] == ["InputError", "TranslationResult", "InputError"]


def test_a_style_with_a_tone_layer_shades_dark_faces_in_translate(tmp_path):
    from gpdface.tone_layer import ToneLayer

    rng = np.random.default_rng(3)
    dark_face = rng.integers(40, 80, (256, 256, 3), dtype=np.uint8)
    dark_face[200:] = 250  # a white collar: the photo's highlights
    plain = Translator(make_style(tmp_path, "plain"), device="cpu")(dark_face, aligned=True).image.astype(int)
    layered_style = make_style(tmp_path, "layered", tone_layer=ToneLayer(knee=0.75, strength=0.5))
    layered = Translator(layered_style, device="cpu")(dark_face, aligned=True).image.astype(int)
    assert (layered <= plain + 1).all()  # the layer only darkens
    assert plain[20:180].mean() - layered[20:180].mean() > 30  # and the dark skin a lot
    assert np.abs(plain[225:] - layered[225:]).max() <= 1  # the collar, as light as the highlights, is left alone
