"""`gpdface demo`: the running app driven over HTTP with gradio_client, as a browser page would use it."""

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import HANG_GUARD_S, asset

pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
from gradio_client import Client, handle_file

from gpdface.demo import DemoSettings, launch
from gpdface.recipe import FinetuneRecipe


@pytest.fixture
def app(with_detector):
    settings = DemoSettings(
        device="cpu",
        photos_dir=asset("faces/lfw-deepfunneled"),
        recipe=FinetuneRecipe(steps=2, adapt_steps=2, projection_steps=2, encoder_steps=2, photos_limit=60),
    )
    demo, address = launch(settings, block=False)
    try:
        yield Client(address, verbose=False)
    finally:
        demo.close()


@pytest.fixture
def astronaut_file(astronaut, tmp_path):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def test_the_style_list_holds_the_embedded_styles(app):
    assert "sketch" in app.predict(api_name="/styles")


def test_a_photo_is_translated_and_a_bad_upload_is_one_message(app, astronaut, astronaut_file, tmp_path):
    picture, message = app.predict(handle_file(astronaut_file), "sketch", "paste", api_name="/translate")
    result = np.asarray(Image.open(picture).convert("RGB"))
    assert result.shape == astronaut.shape and "1 face translated" in message
    assert np.abs(result.astype(float) - astronaut).mean() > 5  # drawn, not handed back
    crop, _ = app.predict(handle_file(astronaut_file), "sketch", "crop", api_name="/translate")
    assert np.asarray(Image.open(crop)).shape[:2] == (256, 256)

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(Exception, match="not an image file"):
        app.predict(handle_file(text), "sketch", "paste", api_name="/translate")
    again, _ = app.predict(handle_file(astronaut_file), "sketch", "paste", api_name="/translate")
    assert np.asarray(Image.open(again)).shape == astronaut.shape  # the server kept serving


def test_a_photo_without_a_face_says_so_on_the_page(app, no_face, tmp_path):
    path = tmp_path / "coffee.png"
    Image.fromarray(no_face).save(path)
    picture, message = app.predict(handle_file(path), "sketch", "paste", api_name="/translate")
    assert "No face found" in message and np.asarray(Image.open(picture)).shape == no_face.shape


def test_exemplar_counts_outside_one_to_ten_are_refused(app, astronaut_file, tmp_path):
    with pytest.raises(Exception, match="a style named 'sketch' exists already"):
        app.predict([handle_file(astronaut_file)], None, "sketch", "follow", "keep", api_name="/make_style")
    with pytest.raises(Exception, match="give 1–10 exemplar images, not 0"):
        app.predict([], None, "none", "follow", "keep", api_name="/make_style")
    eleven = []
    for index in range(11):
        eleven.append(handle_file(shutil.copy(astronaut_file, tmp_path / f"{index}.png")))
    with pytest.raises(Exception, match="not 11"):
        app.predict(eleven, None, "eleven", "follow", "keep", api_name="/make_style")


@pytest.mark.slow
def test_a_style_made_in_the_page_is_used_at_once(app, astronaut_file, tmp_path):
    folder = Path(__file__).resolve().parents[1] / "examples" / "exemplars" / "lorelei"
    chosen = sorted(folder.glob("*.png"))[:3]
    points = json.loads((folder / "landmarks.json").read_text())
    landmarks = tmp_path / "landmarks.json"
    landmarks.write_text(json.dumps({p.name: points[p.name] for p in chosen}))
    files = [handle_file(p) for p in chosen]
    status, _ = app.predict(files, handle_file(landmarks), "tiny", "ignore", "paper", api_name="/make_style")
    assert "tiny" in status
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        status, _, _ = app.predict(api_name="/progress")
        if "done in" in status or "failed" in status:
            break
        time.sleep(2)
    assert "done in" in status, status
    assert "tiny" in app.predict(api_name="/styles")
    _, message = app.predict(handle_file(astronaut_file), "tiny", "paste", api_name="/translate")
    assert "1 face translated with `tiny`" in message


def test_the_demo_starts_without_the_training_code():
    """Training loads only when a style is made: the page itself is the runtime's."""
    import subprocess
    import sys

    probe = "import sys, gpdface.demo as d; d.build_demo(); print('gpdface.train' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0 and done.stdout.split()[-1] == "False", done.stderr[-500:]


def _browser():
    """Headless Debian chromium through Selenium, or a skip saying what is missing."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("the browser check needs Debian's chromium and chromium-driver (apt-get install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser check needs selenium (the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1300"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)


@pytest.mark.slow
def test_a_real_browser_uploads_translates_and_sees_the_result(with_detector, astronaut_file, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    demo, address = launch(DemoSettings(device="cpu"), block=False)
    try:
        browser.get(address)
        wait = WebDriverWait(browser, HANG_GUARD_S)
        upload = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
        upload.send_keys(str(astronaut_file))
        button = wait.until(seen.element_to_be_clickable((By.ID, "translate")))
        time.sleep(1)  # the upload's preview settles before the click
        button.click()
        wait.until(seen.text_to_be_present_in_element((By.TAG_NAME, "body"), "1 face translated"))
        drawn = wait.until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#result img")))
        assert drawn.size["width"] > 100 and drawn.get_attribute("src")
        screenshot = Path(os.environ.get("GPDFACE_DEMO_SCREENSHOT", tmp_path / "demo.png"))
        browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
    finally:
        browser.quit()
        demo.close()


@pytest.mark.slow
def test_the_server_logs_one_line_for_a_bad_upload_and_leaves_no_upload_behind(with_detector, tmp_path):
    """`gpdface demo` as users start it: a bad upload is one line on its console (not Gradio's traceback),
    and when the server stops, the photos uploaded to it are gone from the temporary folder."""
    import signal
    import subprocess
    import sys

    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("GRADIO_TEMP_DIR", None)
    # Ctrl-C in a terminal, whatever this process inherited: a job started with `&` by a script ignores
    # SIGINT, its children too, and the server would never see the interrupt this test sends.
    server = subprocess.Popen(
        [sys.executable, "-m", "gpdface.cli", "demo", "--device", "cpu"], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        first = server.stdout.readline()
        assert "gpdface demo running at" in first, first
        client = Client(first.split(" at ")[1].split()[0], verbose=False)
        text = tmp_path / "notes.png"
        text.write_text("not an image")
        with pytest.raises(Exception, match="not an image file"):
            client.predict(handle_file(text), "sketch", "paste", api_name="/translate")
        uploads = list(tmp_path.glob("gpdface-demo-uploads-*"))
        assert len(uploads) == 1 and any(p.is_file() for p in uploads[0].rglob("*"))  # the upload landed there
    finally:
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=HANG_GUARD_S)
    logged = [line for line in rest.splitlines() if line.strip()]
    assert not any("Traceback" in line for line in logged), rest
    assert sum("not an image file" in line for line in logged) == 1, rest
    assert not list(tmp_path.glob("gpdface-demo-uploads-*"))


def test_the_page_offers_the_public_domain_sample_photos():
    from gpdface.demo import build_demo

    page = json.dumps(build_demo(DemoSettings(device="cpu")).config)
    assert "astronaut.jpg" in page and "grace_hopper.jpg" in page
