// `vrfwall flows` turns its flags into a GetFlows request (src/cli/flows.ts
// flowsRequest): enum words become the proto's enum names, and a word that
// names none is an error naming the flag and the choices, not a filter the
// server would read as UNSPECIFIED and match nothing with.
import { describe, expect, it } from 'vitest';
import { flowsRequest } from '../src/cli/flows.js';

type Flags = Parameters<typeof flowsRequest>[0];
const none = { namespace: [], pod: [], fromPod: [], toPod: [], network: [], verdict: [], reason: [], ip: [], port: [], protocol: [], direction: [], exclude: [], follow: false };
const flags = (f: Partial<Flags>): Flags => ({ ...none, ...f }) as Flags;

describe('flows command: request from flags', () => {
  it('enum words become proto enum names, in allow and in --exclude', () => {
    const r = flowsRequest(flags({ verdict: ['dropped', 'Allowed'], direction: ['egress'], exclude: ['verdict=allowed', 'direction=INGRESS', 'port=53'] }));
    expect(r.allow).toEqual([expect.objectContaining({ verdict: ['VERDICT_DROPPED', 'VERDICT_ALLOWED'], direction: ['DIRECTION_EGRESS'] })]);
    expect(r.deny).toEqual([{ verdict: ['VERDICT_ALLOWED'] }, { direction: ['DIRECTION_INGRESS'] }, { port: [53] }]);
  });

  it('a word that is no value of the enum (or is UNSPECIFIED) is an error naming the flag and the choices', () => {
    expect(() => flowsRequest(flags({ verdict: ['alowed'] }))).toThrow('--verdict "alowed": one of allowed, dropped');
    expect(() => flowsRequest(flags({ verdict: ['unspecified'] }))).toThrow('--verdict "unspecified": one of allowed, dropped');
    expect(() => flowsRequest(flags({ direction: ['out'] }))).toThrow('--direction "out": one of egress, ingress');
    expect(() => flowsRequest(flags({ exclude: ['verdict=maybe'] }))).toThrow('--exclude verdict "maybe": one of allowed, dropped');
  });
});
