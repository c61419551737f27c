/** Refusals of the engine's API, each with the status and body Marathon answers with. */

export class EngineApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

export function appNotFound(appId: string): EngineApiError {
  return new EngineApiError(404, { message: `App '${appId}' does not exist` });
}

export function appExists(appId: string): EngineApiError {
  return new EngineApiError(409, { message: `An app with id [${appId}] already exists.` });
}

export function appLocked(deploymentIds: string[]): EngineApiError {
  return new EngineApiError(409, {
    message: `App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.`,
    deployments: deploymentIds.map((id) => ({ id })),
  });
}
