import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { chartData } from './format.js';
import type { Summary } from './api.js';

const HEIGHT = 220;

/**
 * Requests and refusals per second over the last five minutes (uPlot: canvas, cheap to redraw
 * every second). The plot is made once and given new data on each update; it follows the
 * card's width.
 */
export function TrafficChart({ series }: { series: Summary['series'] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current!;
    const chart = new uPlot(
      {
        width: element.clientWidth,
        height: HEIGHT,
        cursor: { drag: { x: false, y: false } },
        legend: { show: true },
        axes: [
          { stroke: '#64748b', grid: { stroke: '#e2e8f0' } },
          { stroke: '#64748b', grid: { stroke: '#e2e8f0' }, size: 50 },
        ],
        series: [
          {},
          { label: 'requests/s', stroke: '#4f46e5', fill: 'rgba(79, 70, 229, 0.12)', width: 2 },
          { label: 'refused/s', stroke: '#dc2626', fill: 'rgba(220, 38, 38, 0.15)', width: 2 },
        ],
      },
      chartData(series),
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(chartData(series));
  }, [series]);

  return <div class="chart" ref={box} data-testid="traffic-chart" />;
}
