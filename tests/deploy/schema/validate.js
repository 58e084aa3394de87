#!/usr/bin/env node
// validate.js FILE... - schema-validate Kubernetes manifests without a cluster.
// validate.js --self-test FILE... - also prove that broken copies of them fail.
//
// Two checks per document, both from the kubernetes-models package (the
// Kubernetes API's OpenAPI schemas, compiled for ajv) or, for the custom
// resources of THIRD_PARTY below, its sibling package for that API group:
//  - the JSON schema: types, required fields, enum values, formats;
//  - no unknown field anywhere (as `kubectl apply`'s strict field validation
//    refuses them): the schemas allow extra keys, so the fields of each type
//    are read from the package's type declarations and every key of the
//    document is looked up there, recursively.
// Exit 0 when every document passes (and, with --self-test, every broken
// copy fails); 1 otherwise, one line per problem.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));
const NODE_MODULES = path.dirname(MODELS);

// API groups of custom resources -> the package of their models (same layout:
// GROUP/VERSION/Kind.d.ts, with the CRD's schema).
const THIRD_PARTY = {
	"monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

// The model class and its declaration file for an apiVersion and kind.
function modelFor(apiVersion, kind) {
	const rel = apiVersion; // "v1", "apps/v1", "monitoring.coreos.com/v1"
	const pkg = THIRD_PARTY[apiVersion.split("/")[0]] || "kubernetes-models";
	let mod, dir;
	try {
		mod = require(`${pkg}/${rel}`);
		dir = path.dirname(require.resolve(`${pkg}/package.json`));
	} catch (e) {
		return null;
	}
	if (!mod[kind]) return null;
	return { Model: mod[kind], dts: path.join(dir, rel, `${kind}.d.ts`) };
}

// --- fields of a type, from its .d.ts -------------------------------------
const ifaceCache = new Map();

function stripComments(src) {
	return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
}

// The text inside the braces when the whole type is one object literal
// (`{ "name": string; ... }`, as custom resources declare nested types), else null.
function inlineObjectBody(type) {
	if (type[0] !== "{") return null;
	let depth = 0;
	for (let j = 0; j < type.length; j++) {
		if (type[j] === "{") depth++;
		else if (type[j] === "}" && --depth === 0) return j === type.length - 1 ? type.slice(1, j) : null;
	}
	return null;
}

// parseFields(body) -> Map(field -> type text), for an interface body.
function parseFields(body) {
	const fields = new Map();
	let i = 0;
	while (i < body.length) {
		const m = /"([^"]+)"\??\s*:\s*/y;
		m.lastIndex = i;
		const hit = m.exec(body);
		if (!hit) {
			i++;
			continue;
		}
		let j = m.lastIndex, depth = 0;
		while (j < body.length) {
			const c = body[j];
			if (c === "{" || c === "<" || c === "(") depth++;
			else if (c === "}" || c === ">" || c === ")") depth--;
			else if (c === ";" && depth === 0) break;
			j++;
		}
		fields.set(hit[1], body.slice(m.lastIndex, j).trim());
		i = j + 1;
	}
	return fields;
}

// loadIface(file, exportedName) -> { fields, imports, file } or null (a scalar alias).
function loadIface(file, name) {
	const key = `${file}#${name}`;
	if (ifaceCache.has(key)) return ifaceCache.get(key);
	const src = stripComments(fs.readFileSync(file, "utf8"));
	const imports = new Map();
	for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
		for (const n of m[1].split(",").map((s) => s.trim()).filter(Boolean)) imports.set(n, m[2]);
	}
	// `export { IPod as IIoK8sApiCoreV1Pod, ... }` maps the long name to the interface.
	let local = name;
	for (const m of src.matchAll(/export\s*\{([^}]*)\}/g)) {
		for (const part of m[1].split(",")) {
			const [a, b] = part.split(/\s+as\s+/).map((s) => s.trim());
			if (b === name) local = a;
		}
	}
	const head = new RegExp(`export interface ${local}\\b([^{]*)\\{`).exec(src);
	let out = null;
	if (head) {
		let j = head.index + head[0].length, depth = 1;
		const start = j;
		while (j < src.length && depth > 0) {
			if (src[j] === "{") depth++;
			else if (src[j] === "}") depth--;
			j++;
		}
		const fields = parseFields(src.slice(start, j - 1));
		if (/extends\s+TypeMeta/.test(head[1])) {
			fields.set("apiVersion", "string");
			fields.set("kind", "string");
		}
		out = { fields, imports, file };
	}
	ifaceCache.set(key, out);
	return out;
}

function resolveImport(fromFile, spec) {
	const base = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : path.join(NODE_MODULES, spec);
	return `${base}.d.ts`;
}

// checkFields(value, typeText, ctx, at, errors): unknown keys under a type.
function checkFields(value, type, ctx, at, errors) {
	type = type.trim();
	let m;
	if ((m = /^Array<([\s\S]*)>$/.exec(type))) {
		if (Array.isArray(value)) value.forEach((v, i) => checkFields(v, m[1], ctx, `${at}[${i}]`, errors));
		return;
	}
	if ((m = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(type))) {
		if (value && typeof value === "object")
			for (const [k, v] of Object.entries(value)) checkFields(v, m[1], ctx, `${at}.${k}`, errors);
		return;
	}
	const body = inlineObjectBody(type);
	if (body !== null) {
		checkObject(value, { fields: parseFields(body), imports: ctx.imports, file: ctx.file }, at, errors);
		return;
	}
	if (/^I[A-Za-z0-9]+$/.test(type) && ctx.imports.has(type)) {
		const iface = loadIface(resolveImport(ctx.file, ctx.imports.get(type)), type);
		if (iface) checkObject(value, iface, at, errors);
	}
	// Anything else is a scalar, a union or an alias (Quantity, IntOrString, Time).
}

function checkObject(value, iface, at, errors) {
	if (!value || typeof value !== "object" || Array.isArray(value)) return; // the schema reports it
	for (const [k, v] of Object.entries(value)) {
		if (!iface.fields.has(k)) {
			errors.push(`${at}.${k}: unknown field`);
			continue;
		}
		checkFields(v, iface.fields.get(k), iface, `${at}.${k}`, errors);
	}
}

// validateDoc(doc) -> [problems]
function validateDoc(doc) {
	if (!doc || typeof doc !== "object") return ["not an object"];
	const { apiVersion, kind } = doc;
	const model = apiVersion && kind && modelFor(apiVersion, kind);
	if (!model) return [`unknown apiVersion/kind ${apiVersion}/${kind}`];
	const errors = [];
	try {
		new model.Model(doc).validate();
	} catch (e) {
		errors.push(...String(e.message).split(/,\s*(?=data)/).map((s) => s.replace(/^data/, kind)));
	}
	const iface = loadIface(model.dts, kind === "" ? kind : `I${kind}`);
	if (!iface) errors.push(`no type declaration for ${kind}`);
	else checkObject(doc, iface, kind, errors);
	return errors;
}

let checks = 0;

function validateFile(file, docs) {
	let bad = 0;
	docs.forEach((doc, i) => {
		checks++;
		const name = `${file}[${i}] ${doc && doc.kind}/${doc && doc.metadata && doc.metadata.name}`;
		const errs = validateDoc(doc);
		if (errs.length) {
			bad++;
			for (const e of errs) console.log(`INVALID ${name}: ${e}`);
		} else {
			console.log(`valid   ${name}`);
		}
	});
	return bad;
}

// Broken copies of a manifest: each must be refused.
function podSpec(doc) {
	return doc.kind === "Pod" ? doc.spec : doc.spec && doc.spec.template && doc.spec.template.spec;
}
const MUTATIONS = [
	["a misspelt field (securityContext.capabilites)", (s) => {
		const sc = s.containers[0].securityContext = s.containers[0].securityContext || {};
		sc.capabilites = sc.capabilities; delete sc.capabilities;
	}],
	["an unknown pod field (shareProcessNamespaces)", (s) => { s.shareProcessNamespaces = true; }],
	["a port that is not an integer", (s) => { s.containers[0].ports = [{ containerPort: "9750x" }]; }],
	["a seccomp profile type not in the enum", (s) => {
		s.containers[0].securityContext = { seccompProfile: { type: "Runtimedefault" } };
	}],
	["a container without a name", (s) => { delete s.containers[0].name; }],
	["an env entry without a name", (s) => { s.containers[0].env = [{ value: "x" }]; }],
	["a hostPath type not in the enum", (s) => {
		s.volumes = [{ name: "x", hostPath: { path: "/x", type: "Sideways" } }];
	}],
];

// Broken copies of a PrometheusRule (given its first rule's group and the rule).
function firstRule(doc) {
	const g = doc.kind === "PrometheusRule" && doc.spec && doc.spec.groups && doc.spec.groups[0];
	return g && g.rules && g.rules[0] ? { group: g, rule: g.rules[0] } : null;
}
const RULE_MUTATIONS = [
	["a rule without expr", ({ rule }) => { delete rule.expr; }],
	["a misspelt rule field (annotation)", ({ rule }) => {
		rule.annotation = rule.annotations; delete rule.annotations;
	}],
	["a `for` that is not a duration", ({ rule }) => { rule.for = "5 minutes"; }],
	["a label value that is not a string", ({ rule }) => { rule.labels = { severity: ["critical"] }; }],
	["a group without a name", ({ group }) => { delete group.name; }],
	["an unknown group field (evaluation_interval)", ({ group }) => { group.evaluation_interval = "1m"; }],
];

function selfTest(file, docs) {
	let bad = 0;
	docs.forEach((doc, i) => {
		const [target, mutations] = podSpec(doc) ? [podSpec, MUTATIONS]
			: firstRule(doc) ? [firstRule, RULE_MUTATIONS] : [null, []];
		for (const [what, mutate] of mutations) {
			checks++;
			const copy = JSON.parse(JSON.stringify(doc));
			mutate(target(copy));
			const errs = validateDoc(copy);
			if (errs.length) console.log(`refused ${file}[${i}] with ${what}: ${errs[0]}`);
			else {
				bad++;
				console.log(`ACCEPTED ${file}[${i}] with ${what}: the validator missed it`);
			}
		}
	});
	return bad;
}

function main(argv) {
	const self = argv[0] === "--self-test";
	const files = self ? argv.slice(1) : argv;
	if (!files.length) {
		console.error("usage: validate.js [--self-test] FILE...");
		return 2;
	}
	let bad = 0;
	for (const f of files) {
		let docs;
		try {
			docs = yaml.loadAll(fs.readFileSync(f, "utf8")).filter((d) => d !== null && d !== undefined);
		} catch (e) {
			console.log(`INVALID ${f}: ${e.message.split("\n")[0]}`);
			checks++;
			bad++;
			continue;
		}
		bad += validateFile(f, docs);
		if (self) bad += selfTest(f, docs);
	}
	const kv = require("kubernetes-models/package.json").version;
	const crds = Object.entries(THIRD_PARTY)
		.map(([group, pkg]) => `, ${group} of ${pkg} ${require(`${pkg}/package.json`).version}`).join("");
	console.log(`schema: the Kubernetes API of kubernetes-models ${kv}${crds}, unknown fields refused`);
	console.log(`manifests: ${checks - bad} passed, ${bad} failed`);
	return bad ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));
