import { labSubnet, publishedPorts, PASSIVE_PORTS_VARIABLE, type ComposeSettings } from './settings';

/**
 * Why the Docker lab could not come up, in words that say what to do. Each function
 * reads what Docker or Compose said (their messages, as Compose 1.29 and v2 print
 * them) and names the cause, the way out, and the .env setting that moves the lab.
 */

export class DockerLabError extends Error {
  constructor(message: string, readonly code: 'ENODOCKER' | 'ENOIMAGE' | 'ELABUP' | 'EADDRINUSE' | 'ESUBNET' | 'ECOMPOSE') {
    super(message);
  }
}

/** Another lab, or any Docker network, already on the lab network's addresses. */
export interface NetworkInTheWay {
  network: string;
  subnet: string;
  /** Its Compose project, when Compose made it. */
  project?: string;
  /** Made by wirelab's compose.yaml (named `<project>_lab`): a lab that can be reused. */
  isLab: boolean;
}

/** `docker compose` or `docker-compose`: what to tell the user to type. */
export type ComposeName = string;

export function noEngine(where: string, cause: string): DockerLabError {
  return new DockerLabError(
    `no Docker engine answers at ${where} (${cause}). Start it (\`sudo systemctl start docker\`, or \`sudo dockerd &\`), ` +
      `check that you may use it with \`docker info\`, and try again; or run the lab without Docker: \`wirelab run\` (embedded).`,
    'ENODOCKER',
  );
}

export function noImage(image: string): DockerLabError {
  return new DockerLabError(`the image ${image} is not built yet: run \`npm run images\` first (it needs no registry)`, 'ENOIMAGE');
}

/** This project's containers are running already. */
export function labAlreadyUp(project: string, compose: ComposeName): DockerLabError {
  return new DockerLabError(
    `a lab is already up in Docker (Compose project ${project}). Run the scenarios on it with \`--reuse\` ` +
      `(it stays up afterwards), or stop it first: \`wirelab down --project ${project}\` (or \`${compose} -p ${project} down\`).`,
    'ELABUP',
  );
}

/** The lab network's /24 is taken (Compose says "Pool overlaps with other one on this address space"). */
export function subnetTaken(inTheWay: NetworkInTheWay | undefined, settings: ComposeSettings, compose: ComposeName): DockerLabError {
  const subnet = labSubnet(settings);
  const moveIt = `or move this lab to another network: LAB_PREFIX=10.99.7 in .env (see .env.example)`;
  if (inTheWay?.isLab && inTheWay.project) {
    const p = inTheWay.project;
    return new DockerLabError(
      `a lab is already up in Docker as Compose project ${p} (its network ${inTheWay.network} holds ${subnet}). ` +
        `Run the scenarios on it with \`--reuse\` (it stays up afterwards), stop it first with \`wirelab down --project ${p}\` ` +
        `(or \`${compose} -p ${p} down\`), ${moveIt}.`,
      'ELABUP',
    );
  }
  const who = inTheWay ? `the Docker network ${inTheWay.network}${inTheWay.project ? ` (Compose project ${inTheWay.project})` : ''} already uses ${inTheWay.subnet}` : 'a Docker network already uses those addresses';
  return new DockerLabError(
    `the lab network ${subnet} overlaps another: ${who}. Remove that network (\`docker network rm ${inTheWay?.network ?? 'NAME'}\`, once nothing uses it), ${moveIt}.`,
    'ESUBNET',
  );
}

/**
 * A port Compose could not publish: held by another container ("Bind for
 * 127.0.0.1:8080 failed: port is already allocated") or by a program on this machine
 * ("listen tcp4 127.0.0.1:8080: bind: address already in use").
 */
export function portTaken(output: string, settings: ComposeSettings): DockerLabError | undefined {
  const byContainer = /Bind for ([\d.]+):(\d+) failed: port is already allocated/.exec(output);
  const byProgram = /listen (tcp|udp)[46]? ([\d.]+):(\d+): bind: address already in use/.exec(output);
  if (!byContainer && !byProgram) return undefined;
  const port = Number(byContainer ? byContainer[2] : byProgram![3]);
  const transport = byProgram?.[1] ?? 'tcp';
  const known = publishedPorts(settings).find((p) => p.hostPort === port);
  const variable = known?.variable ?? PASSIVE_PORTS_VARIABLE;
  const what = known ? `${known.service}'s port` : 'an FTP passive port';
  const holder = byContainer
    ? `another container publishes it (\`docker ps --filter publish=${port}\` shows which)`
    : `another program holds it (\`ss -lntup 'sport = :${port}'\` shows which; another wirelab up?)`;
  return new DockerLabError(
    `${what} ${port}/${transport} on 127.0.0.1 is already in use: ${holder}. Stop it, or publish the lab's port elsewhere: ` +
      `${variable}=${variable === PASSIVE_PORTS_VARIABLE ? '31000-31009' : port > 55535 ? port - 10000 : port + 10000} in .env (see .env.example).`,
    'EADDRINUSE',
  );
}

/** Compose's own words when nothing above explains them. */
export function composeFailed(output: string, command: string): DockerLabError {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Creating|Starting|Recreating|Removing|Network|Volume)\b.*(done|\.\.\.)?$/.test(l));
  return new DockerLabError(`${command} failed:\n${lines.slice(-8).join('\n')}`, 'ECOMPOSE');
}
