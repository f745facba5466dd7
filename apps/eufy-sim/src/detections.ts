/** Detections the simulator can trigger: the event it sends and the boolean property behind it. */
export const DETECTIONS = {
  motion: { event: 'motion detected', property: 'motionDetected' },
  person: { event: 'person detected', property: 'personDetected' },
  pet: { event: 'pet detected', property: 'petDetected' },
  vehicle: { event: 'vehicle detected', property: 'vehicleDetected' },
  stranger: { event: 'stranger person detected', property: 'strangerPersonDetected' },
  ring: { event: 'rings', property: 'ringing' },
  sound: { event: 'sound detected', property: 'soundDetected' },
  crying: { event: 'crying detected', property: 'cryingDetected' },
} as const;
export type DetectionKind = keyof typeof DETECTIONS;
/** Smart detections also raise plain motion, as a camera does (person push → motion too). */
export const ALSO_MOTION: ReadonlySet<DetectionKind> = new Set(['person', 'pet', 'vehicle', 'stranger']);
