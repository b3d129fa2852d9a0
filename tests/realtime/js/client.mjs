// Drives a Sophon hub with the official SignalR client; prints one JSON object per line.
// usage: node client.mjs <scenario> <baseUrl> <accessToken> [transport]
//   turn       connect, SendMessage, print the turn's events up to TaskCompleted, stop
//   fallback   WebSockets "blocked" (its constructor throws): the client falls back to SSE
//   reconnect  connect, wait for a reconnect (the test restarts the Gateway), then a turn
import * as signalR from "@microsoft/signalr";

const [scenario, baseUrl, token, transportName] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const EVENTS = ["TaskQueued", "TaskStarted", "AgentStatus", "StreamChunk", "ToolCallStarted",
  "ToolCallCompleted", "ReceiveMessage", "TaskCompleted", "TaskFailed"];

class BlockedWebSocket {
  constructor() { throw new Error("WebSockets blocked by a proxy"); }
}

function build() {
  const options = { accessTokenFactory: () => token };
  if (transportName) options.transport = signalR.HttpTransportType[transportName];
  if (scenario === "fallback") {
    options.transport = signalR.HttpTransportType.WebSockets | signalR.HttpTransportType.ServerSentEvents;
    options.WebSocket = BlockedWebSocket;
  }
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${baseUrl}/hubs/chat`, options)
    .configureLogging(signalR.LogLevel.Error);
  if (scenario === "reconnect") builder = builder.withAutomaticReconnect([0, 100, 200, 500, 1000, 1000, 1000, 1000, 2000, 2000]);
  return builder.build();
}

async function turn(connection, content) {
  const seen = [];
  const done = new Promise((resolve) => {
    for (const name of EVENTS) {
      connection.on(name, (payload) => {
        seen.push({ name, payload });
        if (name === "TaskCompleted" || name === "TaskFailed") resolve();
      });
    }
  });
  const accepted = await connection.invoke("SendMessage",
    { sessionId: null, agentId: null, content, channelId: "webchat", attachments: [], isStreaming: true });
  await done;
  for (const name of EVENTS) connection.off(name);
  return { accepted, events: seen };
}

async function main() {
  const connection = build();
  await connection.start();
  const transport = connection.connection.transport?.constructor?.name;
  print({ step: "connected", transport, connectionId: connection.connectionId });
  if (scenario === "reconnect") {
    const reconnected = new Promise((resolve) => connection.onreconnected(resolve));
    connection.onreconnecting((error) => print({ step: "reconnecting", error: String(error) }));
    await reconnected;
    print({ step: "reconnected" });
  }
  let failure = null;
  try { await connection.invoke("NoSuchMethod"); } catch (error) { failure = String(error.message); }
  print({ step: "error", message: failure });
  print({ step: "turn", ...(await turn(connection, `hello from node over ${transport}`)) });
  await connection.stop();
  print({ step: "stopped" });
}

main().catch((error) => { print({ step: "failed", error: String(error && error.stack || error) }); process.exit(1); });
