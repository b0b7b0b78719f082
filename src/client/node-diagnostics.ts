/**
 * The Node platform's diagnostics channels (`node:diagnostics_channel`), handed to the client
 * core through `ClientPlatform.channels`. The browser platform has none.
 */
import dc from 'node:diagnostics_channel';
import { type ClientChannels, ClientDiagnosticsChannel } from './diagnostics.js';

export const nodeChannels: ClientChannels = {
  connectionOpen: dc.channel(ClientDiagnosticsChannel.CONNECTION_OPEN),
  connectionClose: dc.channel(ClientDiagnosticsChannel.CONNECTION_CLOSE),
  requestStart: dc.channel(ClientDiagnosticsChannel.REQUEST_START),
  requestEnd: dc.channel(ClientDiagnosticsChannel.REQUEST_END),
};
