# lychee-rerank: the two commands the README promises.
#   make run   installs system packages, builds in release and runs the main job
#   make test  installs system packages, runs the whole test suite, then the web page's headless-browser test
.PHONY: deps build run test clean

deps:
	bash scripts/install-deps.sh

build: deps
	swift build -c release --product lychee-rerank

run: build
	bash scripts/demo.sh

test: deps
	swift test 2>&1
	bash scripts/browser-test.sh

clean:
	rm -rf .build
