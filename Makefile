# lychee-rerank: the two commands the README promises.
#   make run   installs system packages, builds in release and runs the main job
#   make test  installs system packages and runs the whole test suite
.PHONY: deps build run test clean

deps:
	bash scripts/install-deps.sh

build: deps
	swift build -c release --product lychee-rerank

run: build
	bash scripts/demo.sh

test: deps
	swift test 2>&1

clean:
	rm -rf .build
