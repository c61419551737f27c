export interface BridgeGateway {
  address: string;
  /** Which of Docker's definitions gave the address. */
  from: string;
}
export function firstAddress(subnet: string): string | undefined;
export function interfaceAddress(name: string): string | undefined;
export function bridgeGateway(
  network: unknown,
  addressOf?: (name: string) => string | undefined,
): BridgeGateway | undefined;
