import path from 'node:path';
import { captureSettings, labBridge, labCaptureFile } from '../../../lab-runner/backends/docker/capture';

/**
 * Where the Docker capture service writes (no Docker needed: the settings Compose is
 * given). The file itself is tests/docker/stack.test.ts's, with WIRELAB_DOCKER_TESTS=1.
 */
describe('the Docker capture file', () => {
  test('the capture service writes the file asked for: its folder mounted, its name given to tcpdump', () => {
    expect(captureSettings('/tmp/x/lab.pcap')).toEqual({ LAB_CAPTURE_DIR: '/tmp/x', LAB_CAPTURE_FILE: 'lab.pcap' });
    expect(captureSettings('run.pcap')).toEqual({ LAB_CAPTURE_DIR: process.cwd(), LAB_CAPTURE_FILE: 'run.pcap' });
  });

  test("the bridge's name follows the lab's prefix, as compose.yaml's does", () => {
    expect(labBridge({})).toBe('wl-172.28.0');
    expect(labBridge({ LAB_PREFIX: '10.99.7' })).toBe('wl-10.99.7');
    expect(labBridge({ LAB_PREFIX: '255.255.255' }).length).toBeLessThanOrEqual(15);
  });

  test("wirelab run's lab capture goes beside the client's, one per run", () => {
    expect(labCaptureFile('/tmp/out/run.pcapng')).toBe('/tmp/out/run-lab.pcap');
    expect(labCaptureFile('/tmp/out/run.pcap')).toBe('/tmp/out/run-lab.pcap');
    expect(labCaptureFile('capture.pcapng')).toBe(path.resolve('capture-lab.pcap'));
  });
});
