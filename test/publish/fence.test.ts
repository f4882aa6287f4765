/**
 * The rule of the fence: of the images of a name, the one whose publish
 * completed last is current; images without a completion time are older than
 * any with one; equal times go to the greater id, so every publish agrees.
 */
import { currentOf } from '../../activities/publish/obsolete';

describe('the current image of a name', () => {
  it('is the one whose publish completed last', () => {
    expect(
      currentOf([
        { id: 'a', rank: 1_000 },
        { id: 'b', rank: 3_000 },
        { id: 'c', rank: 2_000 },
      ]),
    ).toBe('b');
  });

  it('prefers any completed publish to images from before completion times were recorded', () => {
    expect(
      currentOf([
        { id: 'zzz-legacy', rank: -Infinity },
        { id: 'aaa', rank: 5 },
      ]),
    ).toBe('aaa');
  });

  it('breaks equal times by id, the same way whatever order the images were listed in', () => {
    const images = [
      { id: 'b', rank: 7 },
      { id: 'a', rank: 7 },
      { id: 'c', rank: 7 },
    ];
    expect(currentOf(images)).toBe('c');
    expect(currentOf([...images].reverse())).toBe('c');
  });

  it('has none among no images', () => {
    expect(currentOf([])).toBeUndefined();
  });
});
