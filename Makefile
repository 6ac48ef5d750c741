# lychee-rerank: the two commands the README promises.
#   make run   installs system packages, builds in release, downloads the model if needed and serves it
#              (MODEL=vec-ai/lychee-rerank-mm by default; any model id or folder; PORT=7860; BACKEND=auto)
#   make test  installs system packages (and NVRTC from PyPI, to compile the CUDA kernels without a GPU),
#              runs the whole test suite, the web page's headless-browser test, the real rerank clients
#              (pinned, from PyPI, in a throwaway venv) and a bounded schemathesis run against `serve`, validates
#              deploy/ (Kubernetes manifests against the schemas, the Containerfile lint), then builds the
#              self-contained release binary and checks it runs alone (scripts/standalone-test.sh)
#   make fuzz         builds the libFuzzer targets of Fuzz/ and runs each FUZZ_SECONDS seconds (README, "Fuzzing")
#   make package      lychee-rerank-linux-x86_64.tar.gz (scripts/package.sh)
#   make web-assets   re-embeds Sources/RerankServer/Web after editing a file there
.PHONY: deps build run demo test validate-deploy fuzz package web-assets clean lint

deps:
	bash scripts/install-deps.sh

build: deps
	swift build -c release --product lychee-rerank

MODEL ?= vec-ai/lychee-rerank-mm
PORT ?= 7860
HOST ?= 127.0.0.1
BACKEND ?= auto

run: build
	.build/release/lychee-rerank serve --model "$(MODEL)" --host $(HOST) --port $(PORT) --backend $(BACKEND)

demo: build
	bash scripts/demo.sh

test: deps lint
	NVRTC=$$(bash scripts/install-nvrtc.sh) && LD_LIBRARY_PATH="$$NVRTC$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" swift test 2>&1
	bash scripts/browser-test.sh
	bash scripts/client-compat.sh
	bash scripts/validate-deploy.sh
	bash scripts/standalone-test.sh

validate-deploy:
	bash scripts/validate-deploy.sh

FUZZ_SECONDS ?= 60

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

package: deps
	bash scripts/package.sh

# The style .swift-format describes (lines within 120, no force unwraps or force tries), checked on every file.
lint:
	swift format lint --strict --recursive Sources Tests Package.swift

web-assets:
	bash scripts/embed-web-assets.sh

clean:
	rm -rf .build .build-fuzz
