#!/usr/bin/env node
/*
 * Starts the pinned Tinylicious (interop/node_modules/tinylicious) bound to one host only.
 *
 * Why a launcher: tinylicious 7.0.1 calls `httpServer.listen(port)` without a host, i.e. on every
 * interface, and has no config key for the host. We patch `net.Server.prototype.listen` (http.Server
 * inherits it) before loading tinylicious so every TCP listen in this process, including the
 * port-availability probes of `detect-port`, binds TINYLICIOUS_HOST (default 127.0.0.1).
 *
 * Configuration comes from the environment, which tinylicious reads through nconf
 * (`nconf.env({ separator: "__" })` overrides its config.json):
 *   PORT=<port>                  listening port (tinylicious default 7070)
 *   storage=<dir>                git storage folder for summaries (default /var/tmp/tinylicious)
 *   db__inMemory=true            ops/documents in memory (already the default)
 *   logger__colorize=false       plain log lines
 *   TINYLICIOUS_HOST=<ip>        host to bind (this launcher; default 127.0.0.1)
 * `cargo xtask tinylicious start` sets all of these.
 */
"use strict";

const dns = require("node:dns");
const net = require("node:net");
const path = require("node:path");

const host = process.env.TINYLICIOUS_HOST || "127.0.0.1";

// Tinylicious talks to itself over http://localhost:<port> (alfred -> historian); with the server on
// 127.0.0.1 only, `localhost` must not resolve to ::1 first.
dns.setDefaultResultOrder("ipv4first");

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnHostOnly(...args) {
	const [first] = args;
	if (first !== null && typeof first === "object") {
		// listen(options[, cb]): leave unix sockets and inherited handles alone.
		if (first.path === undefined && first.fd === undefined && first._handle === undefined && first.handle === undefined) {
			args[0] = { ...first, host };
		}
	} else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
		// listen(port[, host][, backlog][, cb]): replace or insert the host.
		if (typeof args[1] === "string" || args[1] === null || args[1] === undefined) {
			if (args.length >= 2) {
				args[1] = host;
			} else {
				args.push(host);
			}
		} else {
			args.splice(1, 0, host);
		}
	} else if (first === undefined || typeof first === "function") {
		// listen() / listen(cb): random port, still on our host only.
		args.splice(0, 0, { port: 0, host });
		if (args[1] === undefined) {
			args.splice(1, 1);
		}
	}
	return originalListen.apply(this, args);
};

if (process.env.storage === undefined) {
	console.error("tinylicious-launcher: warning: `storage` not set, tinylicious will use /var/tmp/tinylicious");
}
console.error(`tinylicious-launcher: binding ${host}:${process.env.PORT ?? 7070}`);

require(path.join(__dirname, "node_modules", "tinylicious", "dist", "index.js"));
