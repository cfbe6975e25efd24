// cosmjs against a Gonka node (the devnet): balance, a send with an explicit fee, a send with
// "auto" (simulated) gas, each waited for until it is in a block. Prints one JSON object.
//
//   node tests/js/cosmjs_send.mjs URL MNEMONIC TO
//
// URL is the node's base URL (http://127.0.0.1:26600); the key is at m/44'/1200'/0'/0/0.
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice, SigningStargateClient, calculateFee } from "@cosmjs/stargate";
import { stringToPath } from "@cosmjs/crypto";

const [url, mnemonic, to] = process.argv.slice(2);
if (!url || !mnemonic || !to) {
  console.error("usage: node cosmjs_send.mjs URL MNEMONIC TO");
  process.exit(2);
}

const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, {
  prefix: "gonka",
  hdPaths: [stringToPath("m/44'/1200'/0'/0/0")],
});
const [account] = await wallet.getAccounts();
const client = await SigningStargateClient.connectWithSigner(url + "/chain-rpc/", wallet, {
  gasPrice: GasPrice.fromString("0ngonka"),
  broadcastPollIntervalMs: 200,
  broadcastTimeoutMs: 30_000,
});

const summary = (r) => ({
  code: r.code,
  height: r.height,
  txhash: r.transactionHash,
  gasWanted: r.gasWanted.toString(),
  gasUsed: r.gasUsed.toString(),
  events: r.events.map((e) => e.type),
  msgResponses: r.msgResponses.map((m) => m.typeUrl),
});

const out = {
  chainId: await client.getChainId(),
  height: await client.getHeight(),
  address: account.address,
  balanceBefore: (await client.getBalance(account.address, "ngonka")).amount,
  sequenceBefore: (await client.getSequence(account.address)).sequence,
};
const explicit = await client.sendTokens(account.address, to, [{ denom: "ngonka", amount: "1000" }],
  calculateFee(200000, GasPrice.fromString("0ngonka")), "explicit fee");
out.explicit = summary(explicit);
const auto = await client.sendTokens(account.address, to, [{ denom: "ngonka", amount: "2000" }], "auto", "auto gas");
out.auto = summary(auto);
// The same message and memo as the "auto" send: its gas limit was this × 1.4.
out.simulatedGas = await client.simulate(account.address, [{
  typeUrl: "/cosmos.bank.v1beta1.MsgSend",
  value: { fromAddress: account.address, toAddress: to, amount: [{ denom: "ngonka", amount: "2000" }] },
}], "auto gas");
out.balanceAfter = (await client.getBalance(account.address, "ngonka")).amount;
out.recipientBalance = (await client.getBalance(to, "ngonka")).amount;
out.sequenceAfter = (await client.getSequence(account.address)).sequence;
const found = await client.getTx(explicit.transactionHash);
out.getTx = found ? { height: found.height, code: found.code, hash: found.hash } : null;
out.searchBySender = (await client.searchTx(`message.sender='${account.address}'`)).length;
client.disconnect();
console.log(JSON.stringify(out));
