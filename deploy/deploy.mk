# deploy.mk - deployment targets, included by the Makefile (include deploy/deploy.mk).
# Uses the Makefile's BUILD, and builds the daemon through its `all` target.
#
#   make validate-manifests   schema-validate deploy/*.yaml against the Kubernetes
#                             API (strict: unknown fields fail) and prove that broken
#                             copies fail; ~1 s once the validator is installed
#   make test-deploy          build the image from deploy/Dockerfile and run the
#                             sidecar pod, the DaemonSet shape and the systemd unit
#                             under podman (root; see deploy/README.md)
#   make install              binary, systemd unit and /etc/default/sockreap
#                             (PREFIX=/usr/local, DESTDIR=, SYSCONFDIR=/etc)
#   make uninstall            the same files but the configuration
#   make deploy-deps          what the above need (make deps, and Node.js)

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

DEPLOY_NODE := $(BUILD)/deploy/validate
DEPLOY_YAML := deploy/sidecar-pod.yaml deploy/daemonset.yaml deploy/monitoring/prometheusrule.yaml

.PHONY: deploy-deps deploy-node-deps deploy-base validate-manifests test-deploy install uninstall

# The packages are in the Makefile's one list (DEB_PKGS).
deploy-deps: deps deploy-node-deps

# Node.js and npm from Debian, unless the machine already has them.
deploy-node-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "installing: nodejs npm"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	fi

# The validator, pinned by tests/deploy/schema/package-lock.json, under build/.
$(DEPLOY_NODE)/node_modules/.installed: tests/deploy/schema/package.json \
		tests/deploy/schema/package-lock.json | deploy-node-deps
	@echo "  NPM     $(DEPLOY_NODE)"
	$(Q)mkdir -p $(DEPLOY_NODE) && cp $(filter %.json,$^) $(DEPLOY_NODE)/
	$(Q)cd $(DEPLOY_NODE) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
	$(Q)touch $@

validate-manifests: $(DEPLOY_NODE)/node_modules/.installed
	$(Q)NODE_PATH=$(DEPLOY_NODE)/node_modules node tests/deploy/schema/validate.js --self-test $(DEPLOY_YAML)

# Timing-sensitive parts hold /tmp/sockreap-cpu.lock (tests/deploy/run.sh).
# The Debian base image the Dockerfile names (debootstrap, cached): make
# test makes it ahead, beside the unit tests (downloads, not CPU); the
# deployment tests make it themselves when it is missing.
deploy-base:
	$(Q)mkdir -p $(BUILD) && deploy/debian-base.sh >$(BUILD)/deploy-base.log 2>&1 || \
		{ echo "deploy-base: not made now (test-deploy tries again):"; tail -3 $(BUILD)/deploy-base.log; }

test-deploy: deploy-deps validate-manifests
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/deploy/run.sh $(BUILD)

install:
	$(Q)$(MAKE) --no-print-directory all
	install -D -m 0755 $(BUILD)/sockreap $(DESTDIR)$(BINDIR)/sockreap
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/sockreap|$(BINDIR)/sockreap|' \
	    -e 's|/etc/default/sockreap|$(SYSCONFDIR)/default/sockreap|' \
	    deploy/sockreap.service >$(DESTDIR)$(UNITDIR)/sockreap.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sockreap.service
	@# The configuration is the operator's: never overwritten.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/default/sockreap ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/default/sockreap"; \
	else \
		echo "install -D -m 0644 deploy/sockreap.env $(DESTDIR)$(SYSCONFDIR)/default/sockreap"; \
		install -D -m 0644 deploy/sockreap.env $(DESTDIR)$(SYSCONFDIR)/default/sockreap; \
	fi
	@[ -n "$(DESTDIR)" ] || echo "next: edit $(SYSCONFDIR)/default/sockreap, then" \
		"systemctl daemon-reload && systemctl enable --now sockreap"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sockreap $(DESTDIR)$(UNITDIR)/sockreap.service
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/default/sockreap"
