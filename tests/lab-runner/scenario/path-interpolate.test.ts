import { getPath, parsePath } from '../../../lab-runner/scenario/path';
import { interpolate, MissingVariableError, referencedVariables } from '../../../lab-runner/scenario/interpolate';
import { toMs } from '../../../lab-runner/scenario/duration';

describe('result paths', () => {
  test('dots, indexes and quoted keys', () => {
    expect(parsePath('answers[0].data')).toEqual(['answers', 0, 'data']);
    expect(parsePath('json["a.b"].c')).toEqual(['json', 'a.b', 'c']);
    expect(() => parsePath('')).toThrow();
    expect(() => parsePath('a[x]')).toThrow();
  });

  test('getPath reads objects and lists, and is undefined when absent', () => {
    const value = { answers: [{ data: '1.2.3.4' }], headers: { 'content-type': 'x' } };
    expect(getPath(value, 'answers[0].data')).toBe('1.2.3.4');
    expect(getPath(value, 'answers.0.data')).toBe('1.2.3.4');
    expect(getPath(value, 'answers[3].data')).toBeUndefined();
    expect(getPath(value, 'headers.Content-Type')).toBe('x');
    expect(getPath(value, 'nothing.here')).toBeUndefined();
  });
});

describe('interpolation', () => {
  const vars = { ip: '172.28.0.80', port: 80, note: { id: 7, tags: ['a'] } };

  test('fills in strings, keeps the type of a lone placeholder', () => {
    expect(interpolate({ url: 'http://${ip}:${port}/' }, vars)).toEqual({ url: 'http://172.28.0.80:80/' });
    expect(interpolate({ port: '${port}' }, vars)).toEqual({ port: 80 });
    expect(interpolate(['${note.id}', '/n/${note.id}'], vars)).toEqual([7, '/n/7']);
    expect(interpolate('$${ip}', vars)).toBe('${ip}');
  });

  test('an unknown variable is an error naming it', () => {
    expect(() => interpolate('${nope}', vars)).toThrow(MissingVariableError);
    expect(() => interpolate('x ${nope} y', vars)).toThrow('${nope} has no value');
  });

  test('referencedVariables finds every name, not escaped ones', () => {
    expect(referencedVariables({ a: '${ip}', b: ['${note.id} ${port}', '$${skip}'] }).sort()).toEqual(['ip', 'note', 'port']);
  });

  test('durations', () => {
    expect(toMs(250)).toBe(250);
    expect(toMs('200ms')).toBe(200);
    expect(toMs('1.5s')).toBe(1500);
    expect(toMs('2m')).toBe(120000);
  });
});
