"""gpdface's demo as a Hugging Face Space: the same app as `gpdface demo`, on the Space's host and port."""

from gpdface.demo import DemoSettings, build_demo

build_demo(DemoSettings(device="auto")).launch()
