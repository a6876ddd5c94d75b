# ha-sync: build, test, image and manifests. The seed's targets plus `manifests` and `test`.
#
#   make build                                         compile TypeScript to dist/
#   make test                                          type check, lint, the whole suite
#   make manifests                                     regenerate k8s/generated/ from k8s/pairs.yaml
#   make docker-build IMAGE=192.168.2.100:5000/ha-sync:0.1.0
#   make docker-push  IMAGE=192.168.2.100:5000/ha-sync:0.1.0
#   make set-image    IMAGE=192.168.2.100:5000/ha-sync:0.1.0   name it in k8s/kustomization.yaml
#   make deploy                                        kubectl apply -k k8s/ (refuses stale manifests)

VERSION := $(shell node -p "require('./package.json').version")
IMAGE ?= 192.168.2.100:5000/ha-sync:$(VERSION)
DOCKER ?= docker
KUBECTL ?= kubectl

.PHONY: build test manifests manifests-check docker-build docker-push set-image deploy

build:
	npm run build

test:
	npm test

manifests:
	npm run manifests

manifests-check:
	node scripts/gen-k8s.mjs --check

docker-build:
	$(DOCKER) build --pull -t $(IMAGE) .

docker-push:
	$(DOCKER) push $(IMAGE)

# IMAGE must carry a tag (registry:port/name:tag); the part after the last ':' is the tag.
set-image:
	@img='$(IMAGE)'; name="$${img%:*}"; tag="$${img##*:}"; \
	case "$$tag" in */*|"") echo "set-image: IMAGE needs a tag, e.g. $$img:0.1.0" >&2; exit 2;; esac; \
	sed -i -e "s|^\(    newName: \).*|\1$$name|" -e "s|^\(    newTag: \).*|\1$$tag|" k8s/kustomization.yaml; \
	grep -E 'newName|newTag' k8s/kustomization.yaml

deploy: manifests-check
	$(KUBECTL) apply -k k8s/
