#!/usr/bin/env node
/*
 * fluid-client.mjs: a scriptable Fluid Framework client for the audience interop tests.
 *
 * It uses the real JS stack (`@fluidframework/tinylicious-client` 2.112.0 with `SharedMap` from
 * `fluid-framework` 2.113.1) against a Tinylicious server, so Rust tests can check that what the Rust
 * audience reports matches what a JS application sees.
 *
 * Output: ONE JSON object per line on stdout (nothing else goes to stdout; library chatter is redirected
 * to stderr). Every line has `event`, `t_ms` (ms since this process started) and `epoch_ms`.
 *
 * Subcommands:
 *   create          --url U --user ID --name NAME [--for MS]
 *       creates a container with schema { initialObjects: { presence: SharedMap } }, attaches it,
 *       prints {"event":"created","id":...}, then behaves like `join` on it.
 *   join  <id>      --url U --user ID --name NAME [--for MS]
 *       loads the container, prints {"event":"connected","clientId":...} and every audience event.
 *   watch <id>      same as join (kept as a separate name for readable test code).
 *   bench-members <id> --url U [--user ID --name NAME]
 *       loads the container, waits until connected, prints one {"event":"members",...} line, exits 0.
 *
 * While connected (create/join/watch) it prints:
 *   connected {clientId}, disconnected, disposed {error}
 *   memberAdded / memberRemoved {clientId, member:{id,name,connections}}
 *   membersChanged {count}, then members {why, getMembers:{userId: member}, getMyself: member|null}
 *   rawAddMember / rawRemoveMember {clientId, client}  (loader-level audience, summarizers included)
 *   signal {scope:"datastore"|"container", local, clientId, type, content, targetClientId?}
 *   valueChanged {key, local, value}  (the `presence` SharedMap)
 * and reads commands, one JSON object per line, on stdin:
 *   {"cmd":"signal","type":"greet","content":{...},"target":"<clientId>"?,"scope":"container"?}
 *       sends a signal through the root data object runtime (address "A"-style datastore signal, like
 *       `rootDataObject.runtime.submitSignal`) or, with "scope":"container", through the container runtime.
 *   {"cmd":"members"}   prints a `members` line (why: "cmd")
 *   {"cmd":"set","key":"k","value":<json>}   sets a key in the `presence` SharedMap
 *   {"cmd":"leave"}     disposes the container and exits 0
 * The session also ends (graceful leave, exit 0) when stdin reaches EOF, when `--for MS` elapses, or
 * on SIGINT/SIGTERM. If the container is disposed by an error it exits 2; a startup failure exits 1 after a
 * {"event":"fatal","message":...} line.
 *
 * Tokens: a fixed-user token provider signs HS256 JWTs with Tinylicious's public test key "12345", so the
 * user id and name are the ones given on the command line (the stock InsecureTinyliciousTokenProvider
 * invents a random user per token).
 */

import { createHmac } from "node:crypto";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

// Node 20 has no browser `navigator` global; some Fluid code reads it. Node >= 21 provides one.
if (globalThis.navigator === undefined) {
	globalThis.navigator = { onLine: true, userAgent: `node/${process.version}` };
}

// stdout carries the machine-readable protocol only: keep library logging away from it.
for (const level of ["log", "info", "debug", "warn"]) {
	console[level] = (...args) => console.error(...args);
}

const TINYLICIOUS_TEST_KEY = "12345";
const TOKEN_LIFETIME_S = 60 * 60;
const CONNECTED = 2; // ConnectionState.Connected
const LEAVE_GRACE_MS = 300; // let the socket.io disconnect and WebSocket close go out before exiting

/** Prints one protocol line. Writes to a pipe are synchronous on Linux, so lines go out promptly. */
function emit(event, fields = {}) {
	const line = JSON.stringify({
		event,
		...fields,
		t_ms: Math.round(performance.now() * 1000) / 1000,
		epoch_ms: Date.now(),
	});
	process.stdout.write(`${line}\n`);
}

function errorMessage(error) {
	if (error === undefined || error === null) {
		return null;
	}
	return error.message ?? String(error);
}

function base64url(text) {
	return Buffer.from(text, "utf8").toString("base64url");
}

/** Signs an HS256 JWT the way InsecureTinyliciousTokenProvider does, but for a fixed user. */
function signToken(tenantId, documentId, user) {
	const now = Math.round(Date.now() / 1000);
	const claims = {
		documentId: documentId ?? "",
		scopes: ["doc:read", "doc:write", "summary:write"],
		tenantId,
		user,
		iat: now,
		exp: now + TOKEN_LIFETIME_S,
		ver: "1.0",
	};
	const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
	const payload = base64url(JSON.stringify(claims));
	const signature = createHmac("sha256", TINYLICIOUS_TEST_KEY)
		.update(`${header}.${payload}`)
		.digest("base64url");
	return `${header}.${payload}.${signature}`;
}

/** ITokenProvider giving every connection (summarizer included) the same user id and name. */
class FixedUserTokenProvider {
	constructor(user) {
		this.user = user;
	}
	async fetchOrdererToken(tenantId, documentId) {
		return { fromCache: false, jwt: signToken(tenantId, documentId, this.user) };
	}
	async fetchStorageToken(tenantId, documentId) {
		return { fromCache: false, jwt: signToken(tenantId, documentId, this.user) };
	}
}

function usage() {
	return [
		"usage: fluid-client.mjs <command> [id] [options]",
		"  create              --url U --user ID --name NAME [--for MS]",
		"  join <id>           --url U --user ID --name NAME [--for MS]",
		"  watch <id>          --url U --user ID --name NAME [--for MS]",
		"  bench-members <id>  --url U [--user ID --name NAME]",
		"--url defaults to $AUDIENCE_TINYLICIOUS_URL, then http://127.0.0.1:7070.",
	].join("\n");
}

function parseCommandLine(argv) {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			url: { type: "string" },
			user: { type: "string" },
			name: { type: "string" },
			for: { type: "string" },
			help: { type: "boolean", short: "h" },
		},
	});
	if (values.help) {
		console.error(usage());
		process.exit(0);
	}
	const [command, id, ...extra] = positionals;
	if (command === undefined) {
		throw new Error(`missing command\n${usage()}`);
	}
	const needsId = command !== "create";
	if (!["create", "join", "watch", "bench-members"].includes(command)) {
		throw new Error(`unknown command ${JSON.stringify(command)}\n${usage()}`);
	}
	if (needsId && id === undefined) {
		throw new Error(`${command} needs a container id\n${usage()}`);
	}
	if (!needsId && id !== undefined) {
		throw new Error(`create takes no container id\n${usage()}`);
	}
	if (extra.length > 0) {
		throw new Error(`unexpected arguments: ${extra.join(" ")}`);
	}
	let forMs;
	if (values.for !== undefined) {
		forMs = Number(values.for);
		if (!Number.isFinite(forMs) || forMs < 0) {
			throw new Error(`--for must be a non-negative number of milliseconds, got ${values.for}`);
		}
	}
	const url = new URL(
		values.url ?? process.env.AUDIENCE_TINYLICIOUS_URL ?? "http://127.0.0.1:7070",
	);
	const defaultUser = command === "bench-members" ? "bench" : `js-${process.pid}`;
	const userId = values.user ?? defaultUser;
	return {
		command,
		id,
		url,
		user: { id: userId, name: values.name ?? userId },
		forMs,
	};
}

function connectionFor(url, tokenProvider) {
	const defaultPort = url.protocol === "https:" ? 443 : 80;
	return {
		domain: `${url.protocol}//${url.hostname}`,
		port: url.port === "" ? defaultPort : Number(url.port),
		tokenProvider,
	};
}

function membersObject(audience) {
	return Object.fromEntries(audience.getMembers());
}

/** Wires every event the tests look at and runs the stdin command loop until the session ends. */
class Session {
	constructor(fluidContainer, services) {
		this.fluidContainer = fluidContainer;
		this.services = services;
		// Internal fields of fluid-static's FluidContainer: the loader container (clientId, raw audience)
		// and the root data object (its runtime is what `rootDataObject.runtime.submitSignal` uses).
		this.container = fluidContainer.container;
		this.rootDataObject = fluidContainer.rootDataObject;
		this.map = fluidContainer.initialObjects.presence;
		this.leaving = false;
		this.connectedOnce = false;
		this.connectedWaiters = [];
	}

	emitMembers(why) {
		const myself = this.services.audience.getMyself();
		emit("members", {
			why,
			getMembers: membersObject(this.services.audience),
			getMyself: myself ?? null,
		});
	}

	/** Connection lifecycle only (all `bench-members` needs). */
	wireConnection() {
		this.fluidContainer.on("connected", () => this.onConnected());
		this.fluidContainer.on("disconnected", () =>
			emit("disconnected", { connectionState: this.fluidContainer.connectionState }),
		);
		this.fluidContainer.on("disposed", (error) => this.onDisposed(error));
		// The container may already be connected when we subscribe.
		if (this.fluidContainer.connectionState === CONNECTED) {
			this.onConnected();
		}
	}

	/** Audience, raw audience, signal and map events. */
	wireEvents() {
		const audience = this.services.audience;
		audience.on("memberAdded", (clientId, member) => emit("memberAdded", { clientId, member }));
		audience.on("memberRemoved", (clientId, member) =>
			emit("memberRemoved", { clientId, member }),
		);
		audience.on("membersChanged", () => {
			emit("membersChanged", { count: audience.getMembers().size });
			this.emitMembers("membersChanged");
		});

		const raw = this.container.audience;
		raw.on("addMember", (clientId, client) => emit("rawAddMember", { clientId, client }));
		raw.on("removeMember", (clientId, client) =>
			emit("rawRemoveMember", { clientId, client }),
		);

		const signalHandler = (scope) => (message, local) => {
			emit("signal", {
				scope,
				local,
				clientId: message.clientId ?? null,
				type: message.type,
				content: message.content,
				...(message.targetClientId === undefined
					? {}
					: { targetClientId: message.targetClientId }),
			});
		};
		this.rootDataObject.runtime.on("signal", signalHandler("datastore"));
		this.containerRuntime()?.on("signal", signalHandler("container"));

		this.map.on("valueChanged", (changed, local) =>
			emit("valueChanged", { key: changed.key, local, value: this.map.get(changed.key) ?? null }),
		);
	}

	containerRuntime() {
		return this.rootDataObject.context?.containerRuntime;
	}

	onConnected() {
		const clientId = this.container.clientId;
		// Avoid a duplicate line if the event raced with the initial state check.
		if (this.connectedOnce && clientId === this.lastConnectedClientId) {
			return;
		}
		this.connectedOnce = true;
		this.lastConnectedClientId = clientId;
		emit("connected", { clientId, connectionState: this.fluidContainer.connectionState });
		for (const resolve of this.connectedWaiters.splice(0)) {
			resolve();
		}
	}

	async waitConnected() {
		if (this.connectedOnce) {
			return;
		}
		await new Promise((resolve) => this.connectedWaiters.push(resolve));
	}

	onDisposed(error) {
		emit("disposed", { error: errorMessage(error) });
		if (!this.leaving) {
			// Closed by the service or an error: the tests must notice, so do not pretend success.
			setTimeout(() => process.exit(2), LEAVE_GRACE_MS);
		}
	}

	handleCommand(line) {
		const text = line.trim();
		if (text === "") {
			return;
		}
		let command;
		try {
			command = JSON.parse(text);
		} catch (error) {
			emit("error", { message: `invalid JSON command: ${errorMessage(error)}`, line: text });
			return;
		}
		try {
			switch (command?.cmd) {
				case "signal": {
					if (typeof command.type !== "string") {
						throw new Error("signal needs a string `type`");
					}
					const runtime =
						command.scope === "container"
							? this.containerRuntime()
							: this.rootDataObject.runtime;
					if (runtime === undefined) {
						throw new Error("no container runtime available for scope container");
					}
					runtime.submitSignal(command.type, command.content ?? null, command.target);
					emit("signal_sent", {
						scope: command.scope === "container" ? "container" : "datastore",
						type: command.type,
						content: command.content ?? null,
						...(command.target === undefined ? {} : { target: command.target }),
					});
					break;
				}
				case "members": {
					this.emitMembers("cmd");
					break;
				}
				case "set": {
					if (typeof command.key !== "string") {
						throw new Error("set needs a string `key`");
					}
					this.map.set(command.key, command.value ?? null);
					emit("set", { key: command.key, value: command.value ?? null });
					break;
				}
				case "leave": {
					void this.leave("cmd");
					break;
				}
				default:
					throw new Error(`unknown cmd ${JSON.stringify(command?.cmd)}`);
			}
		} catch (error) {
			emit("error", { message: errorMessage(error), line: text });
		}
	}

	/** Runs until a leave is requested; never returns (the process exits). */
	async run(forMs) {
		const input = createInterface({ input: process.stdin, terminal: false });
		input.on("line", (line) => this.handleCommand(line));
		input.on("close", () => void this.leave("stdin closed"));
		if (forMs !== undefined) {
			setTimeout(() => void this.leave("timeout"), forMs);
		}
		for (const signal of ["SIGINT", "SIGTERM"]) {
			process.on(signal, () => void this.leave(signal));
		}
		await new Promise(() => {});
	}

	async leave(why) {
		if (this.leaving) {
			return;
		}
		this.leaving = true;
		emit("leaving", { why });
		this.fluidContainer.dispose();
		setTimeout(() => {
			emit("end", { code: 0 });
			process.exit(0);
		}, LEAVE_GRACE_MS);
	}
}

async function main() {
	const options = parseCommandLine(process.argv.slice(2));
	emit("start", {
		argv: process.argv.slice(2),
		url: options.url.href,
		user: options.user,
	});

	const loadStart = performance.now();
	const [{ TinyliciousClient }, { SharedMap }] = await Promise.all([
		import("@fluidframework/tinylicious-client"),
		import("fluid-framework"),
	]);
	emit("modules_loaded", { load_ms: performance.now() - loadStart });

	const client = new TinyliciousClient({
		connection: connectionFor(options.url, new FixedUserTokenProvider(options.user)),
	});
	const schema = { initialObjects: { presence: SharedMap } };

	let fluidContainer;
	let services;
	let id = options.id;
	if (options.command === "create") {
		const started = performance.now();
		({ container: fluidContainer, services } = await client.createContainer(schema, "2"));
		const attachStarted = performance.now();
		id = await fluidContainer.attach();
		emit("created", {
			id,
			attach_ms: performance.now() - attachStarted,
			total_ms: performance.now() - started,
		});
	} else {
		const started = performance.now();
		({ container: fluidContainer, services } = await client.getContainer(id, schema, "2"));
		emit("loaded", {
			id,
			ms: performance.now() - started,
			connectionState: fluidContainer.connectionState,
		});
	}

	const session = new Session(fluidContainer, services);
	if (options.command === "bench-members") {
		// The member list is complete once our own join is processed, i.e. when connected.
		session.wireConnection();
		await session.waitConnected();
		session.emitMembers("bench");
		await session.leave("done");
		return;
	}
	if (options.command !== "create") {
		session.emitMembers("loaded");
	}
	session.wireEvents();
	session.wireConnection();
	await session.run(options.forMs);
}

main().catch((error) => {
	emit("fatal", { message: errorMessage(error) });
	console.error(error);
	process.exit(1);
});
